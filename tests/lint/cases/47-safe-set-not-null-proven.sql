-- label: safe
-- why: a validated CHECK (email IS NOT NULL) lets PostgreSQL 12+ skip the scan
ALTER TABLE big ALTER COLUMN email SET NOT NULL;
