-- Function bodies in dollar quotes hold their own semicolons.
CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RETURN i + 1; -- a comment inside the body; not ours
END;
$$;

CREATE OR REPLACE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO audit_log (op, at) VALUES (TG_OP, now()); /* ; */
    RAISE NOTICE 'done; %', 'really;';
    RETURN NEW;
END
$fn$;

DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;
SELECT $$;$$ AS semi, $x$;;;$x$ AS semis;
