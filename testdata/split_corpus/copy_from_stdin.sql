CREATE TABLE city (name text, note text);
COPY city (name, note) FROM STDIN; -- data follows
Berlin	semi; colon
O'Brien	$$ not a dollar quote
/* not	a comment
\N	-- not a comment either
\.
COPY city FROM stdin WITH (FORMAT csv);
"Paris;","x"
  \.  
SELECT count(*) FROM city;
