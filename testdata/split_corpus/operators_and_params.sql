-- Operators next to comment markers, parameters, and numbers.
SELECT 1 --> this is a comment, not an operator
;
SELECT 2 -/* a comment between */- 3 AS minus_minus;
SELECT a/*x*/b FROM t;
PREPARE p (int) AS SELECT $1 + 1;
EXECUTE p(41);
SELECT 1.5e-3, .5, 1_000, 0x1F, 'a' || 'b', 1 <> 2, 3 >= 2, (array[1,2])[1:1];
SELECT '{1,2}'::int[] @> '{1}'::int[];
