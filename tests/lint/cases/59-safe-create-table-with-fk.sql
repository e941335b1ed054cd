-- label: safe
-- why: a new table: the FK validates nothing
CREATE TABLE t2 (id int PRIMARY KEY, c bigint REFERENCES customers (id));
