-- label: unsafe
-- why: varchar(50) to varchar(20) checks and rewrites every row
ALTER TABLE big ALTER COLUMN email TYPE varchar(20);
