-- label: unsafe
-- why: big_dup exists INVALID: IF NOT EXISTS would skip it and leave no usable index
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS big_dup ON big (a);
