-- label: unsafe
-- why: DETACH takes ACCESS EXCLUSIVE on the partitioned m (20 000 rows)
ALTER TABLE m DETACH PARTITION m1;
