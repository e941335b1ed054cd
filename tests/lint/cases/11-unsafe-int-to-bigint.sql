-- label: unsafe
-- why: int4 to int8 is not binary-compatible: big and its indexes are rewritten
ALTER TABLE big ALTER COLUMN a TYPE bigint;
