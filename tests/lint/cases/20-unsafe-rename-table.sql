-- label: unsafe
-- why: the old app version still uses small by its name
ALTER TABLE small RENAME TO tiny;
