-- Same model as PostgreSQL. Times are UTC ISO-8601 text of fixed width
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text order is time order; tags are a JSON array.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE todo_lists (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    INTEGER NOT NULL
) STRICT;
CREATE INDEX todo_lists_owner_idx ON todo_lists (owner_id, created_at, id);

CREATE TABLE todos (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    list_id      TEXT NOT NULL REFERENCES todo_lists (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    notes        TEXT NOT NULL,
    completed    INTEGER NOT NULL,
    completed_at TEXT,
    due          TEXT,
    priority     INTEGER NOT NULL,
    tags         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    version      INTEGER NOT NULL
) STRICT;
-- 'z' sorts after every date: todos without a due date come last, as in PostgreSQL.
CREATE INDEX todos_list_position_idx  ON todos (list_id, position, id);
CREATE INDEX todos_list_created_idx   ON todos (list_id, created_at, id);
CREATE INDEX todos_list_due_idx       ON todos (list_id, COALESCE(due, 'z'), id);
CREATE INDEX todos_list_priority_idx  ON todos (list_id, priority, id);
CREATE INDEX todos_owner_position_idx ON todos (owner_id, position, id);
CREATE INDEX todos_owner_created_idx  ON todos (owner_id, created_at, id);
CREATE INDEX todos_owner_due_idx      ON todos (owner_id, COALESCE(due, 'z'), id);
CREATE INDEX todos_owner_priority_idx ON todos (owner_id, priority, id);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind        TEXT,
    snapshot    TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
