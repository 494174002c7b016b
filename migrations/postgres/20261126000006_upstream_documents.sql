-- The pull-through cache: an upstream project's JSON API document
-- (`/pypi/{name}/json`, as PyPI serves it), as the upstream last gave it;
-- `document` is NULL when the upstream has no JSON API for it.
CREATE TABLE upstream_documents (
    normalized_name TEXT   PRIMARY KEY,
    document        TEXT,
    etag            TEXT,
    fetched_at      BIGINT NOT NULL
);
