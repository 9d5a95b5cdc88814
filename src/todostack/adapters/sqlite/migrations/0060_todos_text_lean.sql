-- The `q` index of 0040 again, leaner to keep up: `detail=none` (each trigram's list of rows
-- without the positions in them) and `columnsize=0` (no table of text lengths, which nothing
-- here reads). A create at 1 M todos cost ~1.4 ms in SQLite with 0040's index and ~1.1 ms with
-- this one, 0.9 ms with none (docs/benchmarks.md, "SQLite create at 1 M: a leaner trigram index").
-- Without positions FTS5 cannot match a phrase: a search asks for every trigram of its text
-- instead (all of them, in any order), a superset the exact test in the query then narrows.
-- The triggers of 0040 keep writing to todos_text by name: they serve this table unchanged.
DROP TABLE todos_text;
CREATE VIRTUAL TABLE todos_text USING fts5(
    body, content = 'todos_text_source', content_rowid = 'rowid', tokenize = 'trigram',
    detail = none, columnsize = 0
);
INSERT INTO todos_text (todos_text) VALUES ('rebuild');
