-- label: unsafe
-- why: SET NOT NULL scans big under ACCESS EXCLUSIVE: no validated CHECK proves c non-null
ALTER TABLE big ALTER COLUMN c SET NOT NULL;
