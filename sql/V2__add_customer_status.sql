-- Adding a column with a constant default is instant since PostgreSQL 11 (no table rewrite),
-- and the running app version ignores a column it does not know.
ALTER TABLE customers ADD COLUMN status text NOT NULL DEFAULT 'active';
