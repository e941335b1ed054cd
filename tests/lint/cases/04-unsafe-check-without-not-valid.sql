-- label: unsafe
-- why: the CHECK scans big under ACCESS EXCLUSIVE
ALTER TABLE big ADD CONSTRAINT big_c_pos CHECK (c > 0);
