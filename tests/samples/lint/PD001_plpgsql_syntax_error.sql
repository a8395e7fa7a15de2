CREATE FUNCTION broken() RETURNS int
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$
BEGIN
    RETRUN 1;
END $$;
