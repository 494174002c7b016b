-- The pull-through cache of upstream indexes (CHEESESHOP_UPSTREAM_URL).
--
-- A project's link list as the upstream last gave it (our own JSON form of
-- PEP 691, with absolute upstream URLs), or a remembered 404 (`found` 0).
-- Shared by every instance on the database, and kept across restarts.
CREATE TABLE upstream_projects (
    normalized_name TEXT    PRIMARY KEY,
    found           BOOLEAN NOT NULL,
    upstream        TEXT    NOT NULL,
    listing         TEXT    NOT NULL,
    etag            TEXT,
    -- When the upstream last answered for it (200, 304 or 404), Unix seconds.
    fetched_at      BIGINT  NOT NULL
);

-- Files (and PEP 658 metadata files) fetched from an upstream, verified
-- against the SHA-256 the upstream's link list gave, and kept in storage
-- under `storage_key`. A row exists only once the object is stored.
CREATE TABLE upstream_files (
    sha256          TEXT    NOT NULL,
    filename        TEXT    NOT NULL,
    normalized_name TEXT    NOT NULL,
    storage_key     TEXT    NOT NULL,
    size            BIGINT  NOT NULL,
    stored_at       BIGINT  NOT NULL,
    PRIMARY KEY (sha256, filename)
);
