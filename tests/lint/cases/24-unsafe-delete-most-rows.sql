-- label: unsafe
-- why: the planner estimates about 299 000 rows deleted in one transaction
DELETE FROM big WHERE id > 1000;
