-- The home page's statistics, kept by triggers instead of counted per view:
-- COUNT(*) over 1.8 million files costs tens of milliseconds, a row read
-- microseconds. One row, updated in the same transaction as the change.
CREATE TABLE catalog_counts (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    projects BIGINT NOT NULL,
    releases BIGINT NOT NULL,
    files    BIGINT NOT NULL,
    users    BIGINT NOT NULL
);

INSERT INTO catalog_counts (id, projects, releases, files, users)
SELECT 1, (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM releases),
       (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM users);

CREATE TRIGGER count_projects_insert AFTER INSERT ON projects
BEGIN UPDATE catalog_counts SET projects = projects + 1 WHERE id = 1; END;
CREATE TRIGGER count_projects_delete AFTER DELETE ON projects
BEGIN UPDATE catalog_counts SET projects = projects - 1 WHERE id = 1; END;

CREATE TRIGGER count_releases_insert AFTER INSERT ON releases
BEGIN UPDATE catalog_counts SET releases = releases + 1 WHERE id = 1; END;
CREATE TRIGGER count_releases_delete AFTER DELETE ON releases
BEGIN UPDATE catalog_counts SET releases = releases - 1 WHERE id = 1; END;

CREATE TRIGGER count_files_insert AFTER INSERT ON files
BEGIN UPDATE catalog_counts SET files = files + 1 WHERE id = 1; END;
CREATE TRIGGER count_files_delete AFTER DELETE ON files
BEGIN UPDATE catalog_counts SET files = files - 1 WHERE id = 1; END;

CREATE TRIGGER count_users_insert AFTER INSERT ON users
BEGIN UPDATE catalog_counts SET users = users + 1 WHERE id = 1; END;
CREATE TRIGGER count_users_delete AFTER DELETE ON users
BEGIN UPDATE catalog_counts SET users = users - 1 WHERE id = 1; END;
