/* header comment; with a semicolon
   /* nested; still inside */
   still inside; */
CREATE TABLE t1 (id int /* inline; comment */);
/**/ SELECT 1 /* a /* b */ c */ + 1;
SELECT 2 /*/ not closed by this: */;
