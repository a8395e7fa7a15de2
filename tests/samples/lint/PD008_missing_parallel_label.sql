CREATE FUNCTION no_parallel_label() RETURNS int
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$ SELECT 1 $$;
