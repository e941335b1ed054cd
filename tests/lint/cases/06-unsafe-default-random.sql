-- label: unsafe
-- why: random() is volatile: the column is written into every row, a rewrite under ACCESS EXCLUSIVE
ALTER TABLE big ADD COLUMN r float8 DEFAULT random();
