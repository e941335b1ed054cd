-- label: safe
-- why: now() is stable: PostgreSQL 11+ stores the default, no rewrite
ALTER TABLE big ADD COLUMN at timestamptz DEFAULT now();
