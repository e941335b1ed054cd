-- label: safe
-- why: one row by primary key
UPDATE big SET note = 'x' WHERE id = 7;
