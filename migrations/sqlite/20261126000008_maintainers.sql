-- Maintainers and access (issue 17): project status, collaborators'
-- invitations, site administrators and locked accounts, token scopes,
-- filenames that may never be used again, and the security history.

-- PEP 792 status, and the optional reason shown beside it.
ALTER TABLE projects ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'archived', 'deprecated', 'quarantined'));
ALTER TABLE projects ADD COLUMN status_reason TEXT;

ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT 0;
-- A locked account cannot log in, and its sessions and tokens stop working.
ALTER TABLE users ADD COLUMN locked BOOLEAN NOT NULL DEFAULT 0;

-- What a token may do; tokens made before scopes existed did everything.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read,upload';

-- An owner's invitation of a user to a role; the invitee accepts or
-- declines. One open invitation per user and project.
CREATE TABLE role_invitations (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('Owner', 'Maintainer')),
    invited_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX role_invitations_user ON role_invitations (user_id);

-- Filenames of deleted files: never accepted again (PyPI's rule), so that
-- a name once published always meant the same bytes.
CREATE TABLE deleted_filenames (
    filename TEXT    PRIMARY KEY,
    deleted  INTEGER NOT NULL
);

-- The security history of projects and accounts: append-only. No foreign
-- keys: a project's history outlives the project, and names are kept as
-- they were.
CREATE TABLE security_events (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER,
    project_name TEXT,
    -- Who did it (NULL: the system, or an anonymous request).
    actor_id     INTEGER,
    actor        TEXT,
    -- The account it was done to, when another (an invitee, a locked user).
    subject_id   INTEGER,
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL DEFAULT '',
    address      TEXT,
    created      INTEGER NOT NULL
);
CREATE INDEX security_events_project ON security_events (project_id, id);
CREATE INDEX security_events_actor ON security_events (actor_id, id);
CREATE INDEX security_events_subject ON security_events (subject_id, id);
CREATE TRIGGER security_events_append_only_update BEFORE UPDATE ON security_events
BEGIN SELECT RAISE(ABORT, 'the security history is append-only'); END;
CREATE TRIGGER security_events_append_only_delete BEFORE DELETE ON security_events
BEGIN SELECT RAISE(ABORT, 'the security history is append-only'); END;
