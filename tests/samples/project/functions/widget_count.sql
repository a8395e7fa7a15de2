CREATE OR REPLACE FUNCTION widget_count()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$ SELECT count(*) FROM widgets $$;

COMMENT ON FUNCTION widget_count() IS 'Number of widgets';
