-- Purging an upstream project from the cache, and reserving or releasing a
-- name, change what pages and APIs show: they move the catalogue
-- generation, so every instance's response cache drops what it kept.
-- (Refreshing a list from the upstream does not: those answers are kept
-- only for what is left of their TTL.)
CREATE TRIGGER generation_upstream_projects_delete AFTER DELETE ON upstream_projects
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_reserved_names_insert AFTER INSERT ON reserved_names
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_reserved_names_delete AFTER DELETE ON reserved_names
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
