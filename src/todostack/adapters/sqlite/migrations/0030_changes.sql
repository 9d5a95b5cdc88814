-- The change feed's outbox. Triggers write a change in the same transaction as every write to
-- a todo or a list (cascaded deletes included), so the feed can never disagree with the data.
-- SQLite has one writer at a time: ids are handed out in commit order. AUTOINCREMENT: an id is
-- never used twice, even once every change has been pruned.
CREATE TABLE changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    owner_id  TEXT NOT NULL,
    version   INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    at        TEXT NOT NULL
) STRICT;
CREATE INDEX changes_owner_idx ON changes (owner_id, id);

-- Changes up to this id were pruned: a reader still behind it must resync.
CREATE TABLE changes_horizon (
    one            INTEGER PRIMARY KEY CHECK (one = 1),
    pruned_through INTEGER NOT NULL
) STRICT;
INSERT INTO changes_horizon VALUES (1, 0);

CREATE TRIGGER todos_created AFTER INSERT ON todos BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('todo', NEW.id, NEW.owner_id, NEW.version, 'created', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
CREATE TRIGGER todos_updated AFTER UPDATE ON todos BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('todo', NEW.id, NEW.owner_id, NEW.version, 'updated', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
CREATE TRIGGER todos_deleted AFTER DELETE ON todos BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('todo', OLD.id, OLD.owner_id, OLD.version, 'deleted', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
CREATE TRIGGER todo_lists_created AFTER INSERT ON todo_lists BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('list', NEW.id, NEW.owner_id, NEW.version, 'created', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
CREATE TRIGGER todo_lists_updated AFTER UPDATE ON todo_lists BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('list', NEW.id, NEW.owner_id, NEW.version, 'updated', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
CREATE TRIGGER todo_lists_deleted AFTER DELETE ON todo_lists BEGIN
    INSERT INTO changes (entity, entity_id, owner_id, version, kind, at)
    VALUES ('list', OLD.id, OLD.owner_id, OLD.version, 'deleted', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
END;
