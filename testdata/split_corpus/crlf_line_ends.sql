-- Windows line ends
CREATE TABLE w (id int);
SELECT 'x;
y' AS s -- comment
;
/* block
comment */
SELECT 2;
