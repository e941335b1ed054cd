\set ON_ERROR_STOP on
CREATE TABLE t (id int);
