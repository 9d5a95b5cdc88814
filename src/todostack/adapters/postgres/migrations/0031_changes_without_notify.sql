-- Writes no longer NOTIFY. PostgreSQL serialises the commits of every transaction that notified
-- (a database-wide lock from the notify queue's pre-commit until after the commit record is
-- flushed), so a NOTIFY in the trigger of 0030 made every write of every worker commit one at a
-- time, fsync included: 32 clients inserting one row each did 2,655-2,797 tps with it and
-- 8,609-9,923 without (pgbench, docs/benchmarks.md). The worker that commits a write now wakes its
-- own sequencer (adapters/postgres/feed.py), whose numbering transaction still notifies
-- `numbered`, once per batch of changes; writes from outside the service are found by the
-- sequencer's fallback check.
CREATE OR REPLACE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, entity_id, owner_id, version, kind)
        VALUES (TG_ARGV[0], OLD.id, OLD.owner_id, OLD.version, 'deleted');
    ELSE
        INSERT INTO changes (entity, entity_id, owner_id, version, kind)
        VALUES (TG_ARGV[0], NEW.id, NEW.owner_id, NEW.version,
                CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END);
    END IF;
    RETURN NULL;
END
$$;
