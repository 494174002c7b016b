-- Cached upstream projects appear in search (by name): a project cached
-- for the first time, or found upstream after a remembered 404, moves the
-- catalogue generation, so that cached search pages show it. Refreshes of
-- a list already cached do not (see 20261126000006).
CREATE TRIGGER generation_upstream_projects_insert AFTER INSERT ON upstream_projects WHEN NEW.found
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_upstream_projects_found AFTER UPDATE OF found ON upstream_projects
    WHEN NEW.found AND NOT OLD.found
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
