-- A working package index: uploaded files in storage, their core metadata
-- (PEP 658), API tokens for uploads, and a journal whose ids are PyPI's
-- "serials" (`last_serial`, `X-PyPI-Last-Serial`).

-- Where an uploaded file lives in our storage (`<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`);
-- NULL for imported files, which keep their original URL.
ALTER TABLE files ADD COLUMN storage_key TEXT;
-- SHA-256 of the wheel's METADATA, stored beside the file as `<key>.metadata`.
ALTER TABLE files ADD COLUMN metadata_sha256 TEXT;
-- The uploader, for uploaded files.
ALTER TABLE files ADD COLUMN uploaded_by BIGINT REFERENCES users (id) ON DELETE SET NULL;

-- Every change to a project, in order. A project's last serial is the id of
-- its newest entry.
CREATE TABLE journal (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL,
    action     TEXT   NOT NULL,
    version    TEXT,
    submitted  BIGINT NOT NULL,
    user_id    BIGINT
);
CREATE INDEX journal_project ON journal (project_id);
ALTER TABLE projects ADD COLUMN last_serial BIGINT NOT NULL DEFAULT 0;

INSERT INTO journal (project_id, action, submitted) SELECT id, 'create', created FROM projects ORDER BY id;
UPDATE projects SET last_serial = (SELECT MAX(j.id) FROM journal j WHERE j.project_id = projects.id);

-- API tokens: only the SHA-256 of a token is stored; the token is shown once.
-- A token with a project may upload to that project only.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    token_hash TEXT   NOT NULL UNIQUE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    created    BIGINT NOT NULL,
    last_used  BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
