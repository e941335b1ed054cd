-- label: unsafe
-- why: a unique index built without CONCURRENTLY blocks writes to big
CREATE UNIQUE INDEX big_c2 ON big (c);
