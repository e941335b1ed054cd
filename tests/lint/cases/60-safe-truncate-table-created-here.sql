-- label: safe
-- why: the table is created in the same script
CREATE TABLE scratch (a int);
TRUNCATE scratch;
