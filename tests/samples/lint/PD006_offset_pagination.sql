CREATE FUNCTION page_by_offset(p_page int) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT id FROM items ORDER BY created_at DESC LIMIT 25 OFFSET p_page * 25;
END $$;
