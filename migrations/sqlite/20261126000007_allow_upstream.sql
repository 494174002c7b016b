-- Whether a local project's owner lets the upstream index's releases be
-- served beside the local ones (as devpi's mirror_whitelist). Off: a local
-- name is served from local releases only (no dependency confusion).
ALTER TABLE projects ADD COLUMN allow_upstream BOOLEAN NOT NULL DEFAULT FALSE;
