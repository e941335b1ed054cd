CREATE TABLE t (id int);
\connect other_db
SELECT 1;
