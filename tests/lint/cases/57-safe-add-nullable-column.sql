-- label: safe
-- why: a nullable column without a default is a catalog change
ALTER TABLE big ADD COLUMN y int;
