-- Accounts: users, server-side sessions, login throttling, project roles.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT   NOT NULL,
    -- Lowercased: uniqueness without regard to case, enforced here so that
    -- concurrent registrations cannot both succeed.
    username_normalized TEXT   NOT NULL UNIQUE,
    name                TEXT   NOT NULL,
    email               TEXT   NOT NULL,
    email_normalized    TEXT   NOT NULL UNIQUE,
    -- argon2id PHC string (algorithm, parameters, salt and hash).
    password_hash       TEXT   NOT NULL,
    created             BIGINT NOT NULL
);

-- A session is known by the SHA-256 of its random token: the token itself
-- lives only in the browser's cookie, so a copy of this table opens nothing.
CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    expires    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- Failed logins per key ("account:<name>" or "address:<ip>"), shared by
-- every app instance that uses this database.
CREATE TABLE login_throttle (
    key          TEXT   PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

-- Who may publish a project (Owner or Maintainer, as on PyPI).
CREATE TABLE roles (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       TEXT   NOT NULL,
    PRIMARY KEY (user_id, project_id)
);
CREATE INDEX roles_project ON roles (project_id);
