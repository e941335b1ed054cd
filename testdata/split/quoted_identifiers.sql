CREATE TABLE "odd;name" ("col""quoted;" int, "--not comment" text);
SELECT "a;b" FROM "odd;name";
CREATE TABLE "größe" (wert int);
