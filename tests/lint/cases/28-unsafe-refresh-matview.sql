-- label: unsafe
-- why: a plain REFRESH takes ACCESS EXCLUSIVE on big_stats: reads stop
REFRESH MATERIALIZED VIEW big_stats;
