-- A rule with several actions: the ; between them is inside parentheses.
CREATE RULE log_insert AS ON INSERT TO items DO ALSO (
    INSERT INTO log VALUES ('insert; one');
    INSERT INTO log VALUES ('insert; two')
);
SELECT (1 + (2 * (3 - 4))) AS nested;
