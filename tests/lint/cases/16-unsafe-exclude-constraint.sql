-- label: unsafe
-- why: an EXCLUDE constraint builds its index under ACCESS EXCLUSIVE and has no online path
ALTER TABLE big ADD CONSTRAINT big_c_excl EXCLUDE USING btree (c WITH =);
