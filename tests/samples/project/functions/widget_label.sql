CREATE OR REPLACE FUNCTION widget_label(p_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_name text;
BEGIN
    SELECT name INTO v_name FROM widgets WHERE id = p_id;
    RETURN format('%s of %s', v_name, widget_count());
END
$$;
