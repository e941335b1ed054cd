-- label: safe
-- why: the placeholder is resolved first; CONCURRENTLY
CREATE INDEX CONCURRENTLY big_n2 ON ${schema}.big (note);
