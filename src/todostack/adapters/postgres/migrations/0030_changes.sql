-- The change feed's outbox. A trigger writes a change in the same transaction as every write to
-- a todo or a list (cascaded deletes included), so the feed can never disagree with the data,
-- and wakes the listeners (NOTIFY is delivered at commit, and only then).
--
-- Concurrent transactions commit in another order than they draw from a sequence: a reader
-- could see change 11 before 10 commits and then never look below 11 again. So a change gets
-- its feed id only once it is committed: `pos` is the insertion order, `id` stays NULL until a
-- sequencer (one at a time, under an advisory lock; see adapters/postgres/feed.py) numbers
-- every committed change in one transaction. Readers see numbered changes only.
CREATE TABLE changes (
    pos       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id        bigint UNIQUE,
    entity    text NOT NULL,
    entity_id uuid NOT NULL,
    owner_id  uuid NOT NULL,
    version   integer NOT NULL,
    kind      text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE SEQUENCE changes_id_seq AS bigint;
CREATE INDEX changes_owner_idx ON changes (owner_id, id) WHERE id IS NOT NULL;
CREATE INDEX changes_unnumbered_idx ON changes (pos) WHERE id IS NULL;

-- Changes up to this id were pruned: a reader still behind it must resync.
CREATE TABLE changes_horizon (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint NOT NULL
);
INSERT INTO changes_horizon VALUES (true, 0);

CREATE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, entity_id, owner_id, version, kind)
        VALUES (TG_ARGV[0], OLD.id, OLD.owner_id, OLD.version, 'deleted');
    ELSE
        INSERT INTO changes (entity, entity_id, owner_id, version, kind)
        VALUES (TG_ARGV[0], NEW.id, NEW.owner_id, NEW.version,
                CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END);
    END IF;
    -- Equal notifications of one transaction are folded into one.
    PERFORM pg_notify('todostack_changes', 'written');
    RETURN NULL;
END
$$;

CREATE TRIGGER todos_changes AFTER INSERT OR UPDATE OR DELETE ON todos
    FOR EACH ROW EXECUTE FUNCTION record_change('todo');
CREATE TRIGGER todo_lists_changes AFTER INSERT OR UPDATE OR DELETE ON todo_lists
    FOR EACH ROW EXECUTE FUNCTION record_change('list');
