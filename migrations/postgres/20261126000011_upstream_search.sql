-- Cached upstream projects appear in search (by name): a project cached
-- for the first time, or found upstream after a remembered 404, moves the
-- catalogue generation (and notifies), so that cached search pages show
-- it. Row triggers: an upsert that only refreshes a cached list fires
-- neither (statement triggers would fire for every refresh).
CREATE TRIGGER generation_upstream_projects_insert AFTER INSERT ON upstream_projects
    FOR EACH ROW WHEN (NEW.found) EXECUTE FUNCTION catalog_changed();
CREATE TRIGGER generation_upstream_projects_found AFTER UPDATE OF found ON upstream_projects
    FOR EACH ROW WHEN (NEW.found AND NOT OLD.found) EXECUTE FUNCTION catalog_changed();
