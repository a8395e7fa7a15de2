CREATE FUNCTION definer_unpinned() RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = "$user", public AS $$ SELECT 1 $$;
