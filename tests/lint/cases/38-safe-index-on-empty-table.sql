-- label: safe
-- why: empty has no rows: the build is instant
CREATE INDEX empty_a ON empty (a);
