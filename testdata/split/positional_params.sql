PREPARE q (int, int) AS SELECT $1 + $2;
CREATE FUNCTION add(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2';
SELECT price$usd, $1$ FROM t;
SELECT 1;
