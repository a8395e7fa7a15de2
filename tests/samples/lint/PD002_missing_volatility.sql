CREATE FUNCTION no_volatility() RETURNS int
LANGUAGE sql PARALLEL SAFE SET search_path = public, pg_temp AS $$ SELECT 1 $$;
