-- label: unsafe
-- why: REINDEX blocks writes to big and queries that use its indexes
REINDEX TABLE big;
