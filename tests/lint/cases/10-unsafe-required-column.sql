-- label: unsafe
-- why: NOT NULL without a default: the running app's INSERTs fail, whatever the table's size
ALTER TABLE small ADD COLUMN code text NOT NULL;
