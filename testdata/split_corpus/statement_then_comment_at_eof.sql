CREATE TABLE s (id int);
SELECT count(*) FROM s -- no semicolon, no newline