-- The `tag` search by (owner, tag) pairs. The index of 0041, GIN on (owner_id, tags), keeps the
-- owner's entries and the tag's apart and intersects them: a tag common across all users
-- (`urgent`) has its entries read for every user's rows before the owner's few are kept. At 5 M
-- todos, an owner with 3,100 todos and 9 `urgent` ones read 249 buffers (3.4-6.4 ms), where the
-- same owner's `q` and `due_before` searches read a few (0.3-0.8 ms). Here each entry is one
-- owner's tag, "<owner id>:<tag>": the search reads the posting list of that one key, as long as
-- the owner's matches. docs/benchmarks.md, "Tag search by (owner, tag) pairs".
--
-- IMMUTABLE holds: uuid's text form and text concatenation depend on no setting. Not inlined by
-- the planner (the body is a subquery), so the index expression and the search's condition
-- match as written.
CREATE OR REPLACE FUNCTION todo_owner_tags(owner uuid, tags text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ARRAY(SELECT owner::text || ':' || t FROM unnest(tags) AS t) $$;

-- Built with writes to todos blocked, like 0041's indexes (it runs in the migration's
-- transaction): 1-2 minutes at 5 M rows. An operator can run the function's statement and the
-- index's CONCURRENTLY beforehand (OR REPLACE, IF NOT EXISTS; docs/deploy.md).
CREATE INDEX IF NOT EXISTS todos_owner_tag_pairs_idx ON todos USING gin (todo_owner_tags(owner_id, tags));
-- 0041's (owner_id, tags) index is needed by no statement of this release, but the previous
-- release's tag search needs it: it stays for one release, as dropped columns do (docs/deploy.md,
-- "Upgrade and roll back"), so that a rollback, or old pods during the rollout, keep their plans.
ANALYZE todos;
