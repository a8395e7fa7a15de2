DROP INDEX content_items_all_creator_created_at_id_idx;
DROP VIEW gallery_telemetry_summary;
DROP TABLE gallery_telemetry;
DROP TABLE gallery_config;
