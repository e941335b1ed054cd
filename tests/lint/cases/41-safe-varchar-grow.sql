-- label: safe
-- why: varchar(50) to varchar(100) only widens: a catalog change
ALTER TABLE big ALTER COLUMN email TYPE varchar(100);
