-- Migration: only comments between statements
;
/* just a comment */ ;
SELECT 1;
-- dangling comment; with semicolon
;;
-- final comment without statement
