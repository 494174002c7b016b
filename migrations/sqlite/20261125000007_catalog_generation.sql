-- A number that changes with every change a page can show, so that rendered
-- pages can be cached and still be correct right after a write, on every
-- app instance that shares this database (see server::page_cache).
-- Triggers, not application code, bump it: no write path can forget to.
ALTER TABLE catalog_counts ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER generation_projects_insert AFTER INSERT ON projects
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_projects_update AFTER UPDATE ON projects
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_projects_delete AFTER DELETE ON projects
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;

CREATE TRIGGER generation_releases_insert AFTER INSERT ON releases
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_releases_update AFTER UPDATE ON releases
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_releases_delete AFTER DELETE ON releases
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;

CREATE TRIGGER generation_metadata_insert AFTER INSERT ON release_metadata
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_metadata_update AFTER UPDATE ON release_metadata
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_metadata_delete AFTER DELETE ON release_metadata
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;

CREATE TRIGGER generation_files_insert AFTER INSERT ON files
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_files_update AFTER UPDATE ON files
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_files_delete AFTER DELETE ON files
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;

CREATE TRIGGER generation_users_insert AFTER INSERT ON users
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_users_update AFTER UPDATE ON users
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_users_delete AFTER DELETE ON users
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;

CREATE TRIGGER generation_roles_insert AFTER INSERT ON roles
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_roles_update AFTER UPDATE ON roles
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER generation_roles_delete AFTER DELETE ON roles
BEGIN UPDATE catalog_counts SET generation = generation + 1 WHERE id = 1; END;
