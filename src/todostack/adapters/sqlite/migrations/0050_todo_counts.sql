-- How many todos each account holds, kept by triggers in the same transaction as every insert
-- and delete of a todo (cascaded deletes included), so the quota check before a create reads one
-- row instead of counting the owner's todos up to the quota. A row appears with an account's
-- first todo (an account without a row holds none). SQLite has row-level triggers only.
CREATE TABLE todo_counts (
    owner_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    todos    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER todos_counted_in AFTER INSERT ON todos BEGIN
    INSERT INTO todo_counts (owner_id, todos) VALUES (NEW.owner_id, 1)
    ON CONFLICT (owner_id) DO UPDATE SET todos = todos + 1;
END;
-- An update, never an insert: when the account itself is being deleted its row goes with it.
CREATE TRIGGER todos_counted_out AFTER DELETE ON todos BEGIN
    UPDATE todo_counts SET todos = todos - 1 WHERE owner_id = OLD.owner_id;
END;
-- No statement of the service changes a todo's owner; should one, the count moves with it.
CREATE TRIGGER todos_counted_moved AFTER UPDATE OF owner_id ON todos WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN
    UPDATE todo_counts SET todos = todos - 1 WHERE owner_id = OLD.owner_id;
    INSERT INTO todo_counts (owner_id, todos) VALUES (NEW.owner_id, 1)
    ON CONFLICT (owner_id) DO UPDATE SET todos = todos + 1;
END;

-- The back-fill: the migrator holds the write lock (BEGIN IMMEDIATE) for the whole run.
INSERT INTO todo_counts (owner_id, todos) SELECT owner_id, count(*) FROM todos GROUP BY owner_id;
