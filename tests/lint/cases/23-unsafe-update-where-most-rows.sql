-- label: unsafe
-- why: the planner estimates 300 000 rows for this WHERE: one long transaction
UPDATE big SET note = 'x' WHERE note IS NULL;
