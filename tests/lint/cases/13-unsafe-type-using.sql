-- label: unsafe
-- why: a USING expression is computed for every row: a rewrite
ALTER TABLE big ALTER COLUMN email TYPE int USING length(email);
