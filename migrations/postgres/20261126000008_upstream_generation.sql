-- Purging an upstream project from the cache, and reserving or releasing a
-- name, change what pages and APIs show: they move the catalogue
-- generation (and notify listening instances), so every instance's
-- response cache drops what it kept. (Refreshing a list from the upstream
-- does not: those answers are kept only for what is left of their TTL.)
CREATE TRIGGER generation_upstream_projects AFTER DELETE ON upstream_projects
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();
CREATE TRIGGER generation_reserved_names AFTER INSERT OR DELETE ON reserved_names
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();
