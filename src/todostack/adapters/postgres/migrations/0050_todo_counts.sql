-- How many todos each account holds, kept by triggers in the same transaction as every insert
-- and delete of a todo (cascaded deletes and COPY included), so the quota check before a create
-- reads one row instead of walking up to the quota's worth of the owner's index (0.2 ms at 50
-- todos, 3-5 ms at 10,000; docs/security.md, "Resource limits"). A table of its own rather than
-- a column of users: the users row, read by every request, is not rewritten by every create.
--
-- The insert and delete triggers are statement-level with transition tables: one upsert or
-- update per owner per statement, so a COPY of 10,000 rows, or the cascade of a deleted list,
-- costs one write per owner rather than one per row. A row appears with an account's first todo
-- (an account without a row holds none). The row is locked from the write until the commit:
-- creates of one account commit one after another (docs/security.md).
CREATE TABLE todo_counts (
    owner_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    todos    bigint NOT NULL
);

CREATE FUNCTION count_todos_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In owner order: two statements adding for the same owners lock their rows in one order.
    INSERT INTO todo_counts AS c (owner_id, todos)
    SELECT owner_id, count(*) FROM added GROUP BY owner_id ORDER BY owner_id
    ON CONFLICT (owner_id) DO UPDATE SET todos = c.todos + excluded.todos;
    RETURN NULL;
END
$$;

-- An update, never an insert: when the account itself is being deleted its row is gone (or
-- going) with it, and an insert would fail the foreign key.
CREATE FUNCTION count_todos_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE todo_counts AS c SET todos = c.todos - r.n
    FROM (SELECT owner_id, count(*) AS n FROM removed GROUP BY owner_id) AS r
    WHERE c.owner_id = r.owner_id;
    RETURN NULL;
END
$$;

-- No statement of the service changes a todo's owner (updates write every column but the id and
-- the owner); should one, the count moves with it. Row-level, so that the usual update pays
-- nothing: an UPDATE that does not name owner_id never fires it.
CREATE FUNCTION count_todo_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE todo_counts SET todos = todos - 1 WHERE owner_id = OLD.owner_id;
    INSERT INTO todo_counts AS c (owner_id, todos) VALUES (NEW.owner_id, 1)
    ON CONFLICT (owner_id) DO UPDATE SET todos = c.todos + 1;
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
INSERT INTO todo_counts (owner_id, todos) SELECT owner_id, count(*) FROM todos GROUP BY owner_id;
