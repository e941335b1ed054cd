-- SQL-standard function bodies: ; inside BEGIN ATOMIC ... END does not end the statement.
CREATE FUNCTION sign_name(x int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN x > 0 THEN 'positive' WHEN x < 0 THEN 'negative' ELSE 'zero' END;
END;
CREATE PROCEDURE two_inserts(a int, b int) LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO t VALUES (a);
    INSERT INTO t VALUES (CASE WHEN b IS NULL THEN 0 ELSE (CASE b WHEN 1 THEN 10 ELSE b END) END);
END;
BEGIN;
CREATE FUNCTION empty_body() RETURNS void LANGUAGE sql BEGIN ATOMIC END;
COMMIT;
