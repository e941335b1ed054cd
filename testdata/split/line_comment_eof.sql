SELECT 1;
SELECT 2; -- trailing comment; no newline at end of file