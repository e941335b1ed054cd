-- label: unsafe
-- why: the script holds a plain CREATE INDEX on big next to its concurrent one; Flyway runs the whole file outside a transaction, and the plain one still blocks writes
CREATE INDEX CONCURRENTLY big_note ON big (note);
CREATE INDEX big_created ON big (created);
