-- How many todos each account holds, kept by triggers in the same transaction as every insert
-- and delete of a todo (cascaded deletes and COPY included), so the quota check before a create
-- reads a few rows instead of walking up to the quota's worth of the owner's index (docs/
-- security.md, "Resource limits"). A table of its own rather than a column of users: the users
-- row, read by every request, is not rewritten by every create.
--
-- An account's count is the sum of up to 16 rows (slots), each written by the server processes
-- whose pid falls in it. A counter row stays locked from its write until the commit: with one row
-- per account, the creates of one account from several connections committed one after another
-- (8 connections creating for one account did half the creates per second; bench/todo_counts.py).
-- A pool opens its connections together, with consecutive pids: up to 16 of them never share a
-- slot. A slot appears with its first write; the migration's back-fill is slot 0.
--
-- The insert and delete triggers are statement-level with transition tables: one write per owner
-- per statement, so a COPY of 10,000 rows, or the cascade of a deleted list, costs one write per
-- owner rather than one per row. Owners are written in order: statements that count several
-- owners lock their rows in one order.
CREATE TABLE todo_counts (
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slot     smallint NOT NULL,
    todos    bigint NOT NULL,
    PRIMARY KEY (owner_id, slot)
);

CREATE FUNCTION count_todos_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO todo_counts AS c (owner_id, slot, todos)
    SELECT owner_id, pg_backend_pid() % 16, count(*) FROM added GROUP BY owner_id ORDER BY owner_id
    ON CONFLICT (owner_id, slot) DO UPDATE SET todos = c.todos + excluded.todos;
    RETURN NULL;
END
$$;

-- Owners whose account is gone are left out: the cascade of an account's own delete would
-- otherwise add a slot that the foreign key refuses (and its slots go with the account).
CREATE FUNCTION count_todos_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO todo_counts AS c (owner_id, slot, todos)
    SELECT r.owner_id, pg_backend_pid() % 16, -count(*) FROM removed AS r
    WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = r.owner_id)
    GROUP BY r.owner_id ORDER BY r.owner_id
    ON CONFLICT (owner_id, slot) DO UPDATE SET todos = c.todos + excluded.todos;
    RETURN NULL;
END
$$;

-- No statement of the service changes a todo's owner (updates write every column but the id and
-- the owner); should one, the count moves with it. Row-level, so that the usual update pays
-- nothing: an UPDATE that does not name owner_id never fires it.
CREATE FUNCTION count_todo_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO todo_counts AS c (owner_id, slot, todos)
    SELECT m.owner_id, pg_backend_pid() % 16, m.delta
    FROM (VALUES (OLD.owner_id, -1), (NEW.owner_id, 1)) AS m (owner_id, delta)
    WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = m.owner_id)
    ORDER BY m.owner_id
    ON CONFLICT (owner_id, slot) DO UPDATE SET todos = c.todos + excluded.todos;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_todos_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM todo_counts;
    RETURN NULL;
END
$$;

CREATE TRIGGER todos_counted_in AFTER INSERT ON todos
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION count_todos_added();
CREATE TRIGGER todos_counted_out AFTER DELETE ON todos
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION count_todos_removed();
CREATE TRIGGER todos_counted_moved AFTER UPDATE OF owner_id ON todos
    FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) EXECUTE FUNCTION count_todo_moved();
CREATE TRIGGER todos_counted_truncated AFTER TRUNCATE ON todos
    FOR EACH STATEMENT EXECUTE FUNCTION count_todos_truncated();

-- The back-fill, after the triggers: CREATE TRIGGER holds off every write to todos until this
-- migration commits, so no todo is counted twice or missed.
INSERT INTO todo_counts (owner_id, slot, todos) SELECT owner_id, 0, count(*) FROM todos GROUP BY owner_id;
