-- The lint tests' database: big (300 000 rows), small (50), empty, a partitioned m, and
-- the catalog facts the rules ask about. tests/e2e_lint.rs and tests/lint/compare.py load it.
CREATE TABLE customers (id bigint PRIMARY KEY);
INSERT INTO customers SELECT generate_series(1, 50);
CREATE TABLE order_lines (id int PRIMARY KEY, customer bigint REFERENCES customers (id));
CREATE TABLE big (id bigint PRIMARY KEY, a int, c int, email varchar(50), note text,
                  created timestamp, cust bigint);
INSERT INTO big SELECT g, g % 100, g, 'u' || g, NULL, '2026-01-01', g % 50 + 1
  FROM generate_series(1, 300000) g;
CREATE INDEX big_a ON big (a);
CREATE UNIQUE INDEX big_c_uniq ON big (c);
ALTER TABLE big ADD CONSTRAINT big_email_nn CHECK (email IS NOT NULL);
ALTER TABLE big ADD CONSTRAINT big_a_pos CHECK (a >= 0) NOT VALID;
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE small (id int PRIMARY KEY, a int NOT NULL, m mood);
INSERT INTO small SELECT g, g, 'ok' FROM generate_series(1, 50) g;
CREATE TABLE empty (id int PRIMARY KEY, a int);
CREATE TABLE m (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (1000000);
INSERT INTO m SELECT g, g FROM generate_series(1, 20000) g;
CREATE FUNCTION stable_region() RETURNS text STABLE LANGUAGE sql AS $$ SELECT 'eu' $$;
CREATE TABLE logs (id bigint, msg text);
INSERT INTO logs SELECT g, 'm' || g FROM generate_series(1, 20000) g;
CREATE TABLE legacy (id int);
CREATE MATERIALIZED VIEW big_stats AS SELECT a, count(*) AS n FROM big GROUP BY a;
CREATE UNIQUE INDEX big_stats_a ON big_stats (a);
ANALYZE;
