-- label: safe
-- why: REINDEX CONCURRENTLY lets reads and writes go on
REINDEX INDEX CONCURRENTLY big_a;
