-- label: unsafe
-- why: a new FK column with a non-NULL default validates every row of big
ALTER TABLE big ADD COLUMN cust2 bigint DEFAULT 1 REFERENCES customers (id);
