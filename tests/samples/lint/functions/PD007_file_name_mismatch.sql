CREATE FUNCTION some_other_name() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$ SELECT 1 $$;
