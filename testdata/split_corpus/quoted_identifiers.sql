CREATE TABLE "odd;name" ("col -- one" int, "col /* two */" int, "say ""hi""" text);
SELECT "odd;name"."say ""hi""" FROM "odd;name";
SELECT U&"d\0061t\+000061" FROM U&"\0074" UESCAPE '\';
CREATE TABLE "$$" ("$a$" int);
