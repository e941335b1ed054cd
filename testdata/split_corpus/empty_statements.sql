;
;;
SELECT 1;;
/* a comment alone */ ;
-- another; with a semicolon
;
SELECT 2
;
