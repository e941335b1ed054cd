CREATE TABLE t (id int);
COPY t (id) FROM STDIN;
1
2
