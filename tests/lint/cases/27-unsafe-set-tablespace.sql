-- label: unsafe
-- why: SET TABLESPACE copies every data file of big under ACCESS EXCLUSIVE
ALTER TABLE big SET TABLESPACE pg_default;
