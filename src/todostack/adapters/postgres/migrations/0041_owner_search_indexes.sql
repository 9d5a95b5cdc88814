-- The `q` and `tag` searches through indexes that lead with the owner. The indexes of 0001 hold
-- every user's rows: where the planner expects few matches it scans them and keeps the owner's
-- (a BitmapAnd with an owner index, or a recheck on the heap), so one user's search read every
-- user's candidates. At 5 M todos, for a user with 200 todos, `q=pay pay` read 374,264 index
-- entries (0.18-0.36 s) and `tag=bug` 52,311 (9-18 ms); for the user with 100,000, `q=pay pay`
-- read 110,561 buffers (4.3-7.5 s). With the owner in front (btree_gin gives uuid a GIN operator
-- class) the scan reads the owner's candidates only. docs/benchmarks.md, "Search legs at scale".
-- Every search filters by owner, so the old indexes serve nothing the new ones do not.
-- This builds two GIN indexes with writes to todos blocked (71 s at 5 M rows on a loaded
-- machine); IF NOT EXISTS lets an operator build them beforehand with CREATE INDEX CONCURRENTLY.
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;
CREATE INDEX IF NOT EXISTS todos_owner_text_idx ON todos USING gin (owner_id, (title || ' ' || notes) public.gin_trgm_ops);
CREATE INDEX IF NOT EXISTS todos_owner_tags_idx ON todos USING gin (owner_id, tags);
DROP INDEX IF EXISTS todos_text_idx;
DROP INDEX IF EXISTS todos_tags_idx;
ANALYZE todos;
