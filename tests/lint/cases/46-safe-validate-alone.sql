-- label: safe
-- why: VALIDATE on its own takes SHARE UPDATE EXCLUSIVE: reads and writes go on
ALTER TABLE big VALIDATE CONSTRAINT big_a_pos;
