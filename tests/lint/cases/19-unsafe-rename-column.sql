-- label: unsafe
-- why: the old app version still uses small.a by its name
ALTER TABLE small RENAME COLUMN a TO b;
