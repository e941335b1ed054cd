-- label: safe
-- why: USING INDEX attaches an index built concurrently: a catalog change
ALTER TABLE big ADD CONSTRAINT big_c_key UNIQUE USING INDEX big_c_uniq;
