CREATE TABLE eof_test (id int);
INSERT INTO eof_test VALUES (1);
-- the last line is a comment with no newline after it; SELECT 'not a statement'