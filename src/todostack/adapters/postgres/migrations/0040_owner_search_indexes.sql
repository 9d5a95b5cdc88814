-- The `q` and `tag` searches through indexes that lead with the owner. The indexes of 0001 hold
-- every user's rows: where the planner expects few matches it scans them and keeps the owner's
-- (a BitmapAnd with an owner index, or a filter on the heap), so one user's search read every
-- user's candidates. At 5 M todos, for a user with 200 todos, `q=pay pay` read 374,264 index
-- entries (359 ms) and `tag=bug` 52,311 (18 ms); for the user with 100,000, `q=pay pay` took 7.5 s
-- (110,561 buffers). With the owner in front (btree_gin gives uuid a GIN operator class), the
-- scan intersects with the owner's entries and reads in proportion to the owner's rows.
-- docs/benchmarks.md, "Cost as the data grows". Every search filters by owner, so the old
-- indexes serve nothing the new ones do not.
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;
CREATE INDEX todos_owner_text_idx ON todos USING gin (owner_id, (title || ' ' || notes) public.gin_trgm_ops);
CREATE INDEX todos_owner_tags_idx ON todos USING gin (owner_id, tags);
DROP INDEX todos_text_idx;
DROP INDEX todos_tags_idx;
ANALYZE todos;
