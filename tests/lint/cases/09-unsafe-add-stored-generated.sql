-- label: unsafe
-- why: a stored generated column is computed for every row: a rewrite
ALTER TABLE big ADD COLUMN twice int GENERATED ALWAYS AS (a * 2) STORED;
