CREATE TABLE accounts (id bigint PRIMARY KEY, balance numeric NOT NULL DEFAULT 0, updated_at timestamptz);

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
    msg text := 'touching; row';
BEGIN
    IF NEW.balance < 0 THEN
        RAISE EXCEPTION 'negative balance for %: % -- refused', NEW.id, NEW.balance;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$body$;

CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

COMMENT ON FUNCTION touch_updated_at() IS 'Sets updated_at; refuses negative balances.';
