-- Packaging: projects, their releases, release metadata and distribution files.
-- Portable SQL (SQLite today, PostgreSQL later): integer ids, TEXT, BIGINT
-- timestamps in microseconds since the Unix epoch (UTC), JSON arrays as TEXT.

CREATE TABLE projects (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    -- PEP 503 normalized name: the identity of a project.
    normalized_name   TEXT    NOT NULL UNIQUE,
    created           BIGINT  NOT NULL,
    -- Denormalized from releases on every write, so listings need no
    -- per-project subquery: the latest version (PyPI's rule), the release
    -- whose metadata describes the project, and the most recent upload.
    latest_release_id BIGINT,
    -- The release whose metadata describes the project: the latest one, or
    -- when it has none (imports carry metadata for one version only) the
    -- newest release that has some.
    metadata_release_id BIGINT,
    last_upload       BIGINT
);
CREATE INDEX projects_last_upload ON projects (last_upload DESC);

CREATE TABLE releases (
    id             INTEGER PRIMARY KEY,
    project_id     BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- The version exactly as published (legacy versions are kept verbatim).
    version        TEXT    NOT NULL,
    -- Byte order of sort_key is release order (see domain::version);
    -- PostgreSQL will need COLLATE "C" on it.
    sort_key       TEXT    NOT NULL,
    is_prerelease  BOOLEAN NOT NULL,
    is_legacy      BOOLEAN NOT NULL,
    -- Earliest file upload; NULL when no file (and so no date) is known.
    created        BIGINT,
    yanked         BOOLEAN NOT NULL DEFAULT FALSE,
    yanked_reason  TEXT,
    UNIQUE (project_id, version)
);
CREATE INDEX releases_order ON releases (project_id, sort_key DESC);

CREATE TABLE release_metadata (
    release_id               BIGINT PRIMARY KEY REFERENCES releases (id) ON DELETE CASCADE,
    summary                  TEXT NOT NULL DEFAULT '',
    description              TEXT NOT NULL DEFAULT '',
    description_content_type TEXT NOT NULL DEFAULT '',
    author                   TEXT NOT NULL DEFAULT '',
    author_email             TEXT NOT NULL DEFAULT '',
    maintainer               TEXT NOT NULL DEFAULT '',
    maintainer_email         TEXT NOT NULL DEFAULT '',
    license                  TEXT NOT NULL DEFAULT '',
    keywords                 TEXT NOT NULL DEFAULT '',
    home_page                TEXT NOT NULL DEFAULT '',
    download_url             TEXT NOT NULL DEFAULT '',
    docs_url                 TEXT NOT NULL DEFAULT '',
    platform                 TEXT NOT NULL DEFAULT '',
    requires_python          TEXT NOT NULL DEFAULT '',
    -- JSON: [["label", "url"], ...]
    project_urls             TEXT NOT NULL DEFAULT '[]',
    -- JSON: ["Classifier :: ...", ...]
    classifiers              TEXT NOT NULL DEFAULT '[]',
    -- JSON: ["requirement", ...]
    requires_dist            TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    release_id      BIGINT  NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    -- Filenames are unique across an index, forever (as on PyPI).
    filename        TEXT    NOT NULL UNIQUE,
    packagetype     TEXT    NOT NULL,
    python_version  TEXT    NOT NULL DEFAULT '',
    size            BIGINT  NOT NULL,
    sha256          TEXT    NOT NULL,
    md5             TEXT,
    blake2b_256     TEXT,
    upload_time     BIGINT  NOT NULL,
    url             TEXT    NOT NULL,
    requires_python TEXT,
    yanked          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX files_release ON files (release_id);
