-- An index for the `q` search: FTS5 with the trigram tokenizer over title || ' ' || notes, so a
-- substring of three characters or more is found through the index (case-insensitive, like the
-- search itself) instead of reading every one of the owner's todos. The text is not stored twice:
-- the index reads it through a view of todos (external content), kept in step by triggers.
-- todos has no INTEGER PRIMARY KEY, so a VACUUM may renumber rowids: after one, run
-- INSERT INTO todos_text(todos_text) VALUES ('rebuild') (the service never vacuums).
CREATE VIEW todos_text_source AS SELECT rowid, title || ' ' || notes AS body FROM todos;
CREATE VIRTUAL TABLE todos_text USING fts5(
    body, content = 'todos_text_source', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER todos_text_insert AFTER INSERT ON todos BEGIN
    INSERT INTO todos_text (rowid, body) VALUES (new.rowid, new.title || ' ' || new.notes);
END;
CREATE TRIGGER todos_text_delete AFTER DELETE ON todos BEGIN
    INSERT INTO todos_text (todos_text, rowid, body) VALUES ('delete', old.rowid, old.title || ' ' || old.notes);
END;
CREATE TRIGGER todos_text_update AFTER UPDATE OF title, notes ON todos BEGIN
    INSERT INTO todos_text (todos_text, rowid, body) VALUES ('delete', old.rowid, old.title || ' ' || old.notes);
    INSERT INTO todos_text (rowid, body) VALUES (new.rowid, new.title || ' ' || new.notes);
END;
INSERT INTO todos_text (todos_text) VALUES ('rebuild');
