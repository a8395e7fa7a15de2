-- Each noqa below silences nothing: no reason, no code, an unknown code.
CREATE FUNCTION page_by_offset(p_page int) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT id FROM items ORDER BY id LIMIT 25;  -- noqa: PD006
    RETURN QUERY SELECT id FROM items ORDER BY id LIMIT 25;  -- noqa
    RETURN QUERY SELECT id FROM items ORDER BY id LIMIT 25;  -- noqa: PD999 no such rule
END $$;
