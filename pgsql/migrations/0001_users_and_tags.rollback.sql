DO $rollback$
BEGIN
    IF EXISTS (SELECT 1 FROM gallery_schema_origin WHERE object_name = 'tags' AND origin = 'created') THEN
        DROP TABLE tags;
    END IF;
    IF EXISTS (SELECT 1 FROM gallery_schema_origin WHERE object_name = 'users' AND origin = 'created') THEN
        DROP TABLE users;
    END IF;
END
$rollback$;
DROP TABLE gallery_schema_origin;
