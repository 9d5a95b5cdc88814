-- The `q` index of 0040 again, cheaper to keep up on every create: `detail=none` (each trigram's
-- list of rows, without the positions in them) and `columnsize=0` (no table of text lengths,
-- which nothing here reads). docs/benchmarks.md, "SQLite create at 1 M".
-- Without positions FTS5 cannot match a phrase: a search asks for rows holding every trigram of
-- its text, in any order, a superset that the exact test in the same query narrows.
-- The triggers of 0040 write to todos_text by name: they serve this table unchanged.
DROP TABLE todos_text;
CREATE VIRTUAL TABLE todos_text USING fts5(
    body, content = 'todos_text_source', content_rowid = 'rowid', tokenize = 'trigram',
    detail = none, columnsize = 0
);
INSERT INTO todos_text (todos_text) VALUES ('rebuild');
