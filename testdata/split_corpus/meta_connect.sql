CREATE TABLE before_connect (id int);
\connect other_db
CREATE TABLE after_connect (id int);
