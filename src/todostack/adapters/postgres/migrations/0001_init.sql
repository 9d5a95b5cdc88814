-- Users own lists; lists hold todos. Every todo carries its owner so that every query can
-- filter by owner first (isolation) and use an index that starts with it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE todo_lists (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version    integer NOT NULL
);
CREATE INDEX todo_lists_owner_idx ON todo_lists (owner_id, created_at, id);

CREATE TABLE todos (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    list_id      uuid NOT NULL REFERENCES todo_lists (id) ON DELETE CASCADE,
    title        text NOT NULL,
    notes        text NOT NULL,
    completed    boolean NOT NULL,
    completed_at timestamptz,
    due          timestamptz,
    priority     smallint NOT NULL,
    tags         text[] NOT NULL,
    position     bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    version      integer NOT NULL
);
-- One index per sort order, within a list (the common case) and across all of a user's lists.
-- The trailing id makes every order total, which keyset pagination needs.
CREATE INDEX todos_list_position_idx  ON todos (list_id, position, id);
CREATE INDEX todos_list_created_idx   ON todos (list_id, created_at, id);
CREATE INDEX todos_list_due_idx       ON todos (list_id, (COALESCE(due, 'infinity'::timestamptz)), id);
CREATE INDEX todos_list_priority_idx  ON todos (list_id, priority, id);
CREATE INDEX todos_owner_position_idx ON todos (owner_id, position, id);
CREATE INDEX todos_owner_created_idx  ON todos (owner_id, created_at, id);
CREATE INDEX todos_owner_due_idx      ON todos (owner_id, (COALESCE(due, 'infinity'::timestamptz)), id);
CREATE INDEX todos_owner_priority_idx ON todos (owner_id, priority, id);
CREATE INDEX todos_tags_idx           ON todos USING gin (tags);
CREATE INDEX todos_text_idx           ON todos USING gin ((title || ' ' || notes) public.gin_trgm_ops);

CREATE TABLE idempotency_keys (
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    kind        text,
    snapshot    text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
