-- label: unsafe
-- why: ADD PRIMARY KEY builds its index under ACCESS EXCLUSIVE on logs (20 000 rows)
ALTER TABLE logs ADD PRIMARY KEY (id);
