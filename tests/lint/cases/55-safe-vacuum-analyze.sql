-- label: safe
-- why: a plain VACUUM takes SHARE UPDATE EXCLUSIVE
VACUUM ANALYZE big;
