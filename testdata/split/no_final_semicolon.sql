CREATE TABLE t (id int);

-- the last statement has no semicolon
INSERT INTO t VALUES (1)
