CREATE TABLE country (code text, name text);
COPY country (code, name) FROM STDIN; -- rest of this line is ignored
de	Germany; really
fr	France
\N	\N
\.
COPY public.city FROM stdin WITH (FORMAT csv);
"Berlin;",DE
   \.   
SELECT count(*) FROM country;
