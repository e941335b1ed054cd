CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- a comment inside the body; with a semicolon
    NEW.updated_at := now();
    RAISE NOTICE 'touched %; $$ is text here', NEW.id;
    RETURN NEW;
END;
$fn$;

CREATE TRIGGER account_touch BEFORE UPDATE ON account
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
