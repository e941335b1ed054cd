-- label: safe
-- why: the table is created in the same script: nobody writes to it yet
CREATE TABLE t1 (a int);
CREATE INDEX t1_a ON t1 (a);
