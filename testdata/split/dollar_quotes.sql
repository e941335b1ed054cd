CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$;
CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $outer$
BEGIN
    RETURN $inner$ nested; $$ other tag; $inner$;
END;
$outer$;
SELECT $a$ $b$ ; $b$ $a$, $_tag1$;$_tag1$;
SELECT $$$$; SELECT $é$ ü; $é$;
