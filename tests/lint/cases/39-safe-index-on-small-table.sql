-- label: safe
-- why: small has 50 rows: the build takes milliseconds
CREATE INDEX small_a ON small (a);
