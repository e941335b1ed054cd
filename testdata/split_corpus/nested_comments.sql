/* Block comments nest in PostgreSQL:
   /* this inner comment; with a semicolon */
   is still inside the outer one; so is this 'quote
*/
CREATE TABLE t1 (id int /* inline; comment */);
/*/ a comment that starts with a slash after the star */
/* -- a line comment marker inside a block comment ; */ CREATE TABLE t2 (id int);
/* /* /* three deep */ two */ one */
SELECT 1 /* a /* b */ c */ + 2;
/**/SELECT 3;/***/
