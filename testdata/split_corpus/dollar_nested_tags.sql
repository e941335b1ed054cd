-- Dollar quotes nest by using different tags; only the opening tag closes.
CREATE FUNCTION outer_fn() RETURNS void LANGUAGE plpgsql AS $outer$
BEGIN
    EXECUTE $inner$ CREATE FUNCTION inner_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$ $inner$;
    EXECUTE $q$SELECT 'x; y'$q$;
    RAISE NOTICE '%', $t1$ $t$ ; $t2$ $t1$;
END;
$outer$;
SELECT $a$ $b$ ; $b$ $a$ AS not_closed_by_b, $_x1$ $1 ; $_x1$ AS underscore_tag;
SELECT $tag$ ends here $tag$ || $$ and here $$ AS two;
PREPARE q(int, text) AS SELECT $1, $2;
SELECT $A$ case matters; $a$ still inside $A$ AS upper_tag;
