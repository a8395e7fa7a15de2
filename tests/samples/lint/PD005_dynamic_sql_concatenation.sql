CREATE FUNCTION concat_execute(p_table text) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$
DECLARE
    v_sql text;
    v_count bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM ' || p_table INTO v_count;
    v_sql := 'SELECT count(*) FROM ' || quote_ident(p_table);
    EXECUTE v_sql INTO v_count;
    -- allowed: format() and USING
    EXECUTE format('SELECT count(*) FROM %I WHERE id > $1', p_table) INTO v_count USING 0;
    RETURN v_count;
END $$;
