-- label: unsafe
-- why: ADD UNIQUE builds its index under ACCESS EXCLUSIVE
ALTER TABLE big ADD CONSTRAINT big_c_key UNIQUE (c);
