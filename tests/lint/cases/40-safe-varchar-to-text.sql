-- label: safe
-- why: varchar(50) to text is binary-compatible: a catalog change
ALTER TABLE big ALTER COLUMN email TYPE text;
