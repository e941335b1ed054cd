-- Replacing a column without downtime, step 1 of 3: EXPAND (the default phase).
--
-- Release 1.0 of the app reads and writes `contact`; release 1.1 reads and writes `email`.
-- During the rolling update both run against this one schema, so this script only adds:
-- the new column, and a trigger that writes both columns whichever version writes a row.
-- Rows written from now on are right in both columns; the rows already there are filled
-- by the backfill (V5), in batches, and `contact` is dropped by the contract (V6) once no
-- 1.0 pod is left.
ALTER TABLE customers ADD COLUMN contact text;
ALTER TABLE customers ADD COLUMN email text;

CREATE FUNCTION customers_sync_email() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email IS NULL THEN
        NEW.email := NEW.contact;   -- written by the old version
    ELSIF NEW.contact IS NULL THEN
        NEW.contact := NEW.email;   -- written by the new version
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER customers_sync_email
    BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_sync_email();
