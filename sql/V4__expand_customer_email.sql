-- Expand step of an expand/contract change: the old app writes `contact`, the new one
-- writes `email`. Both run during the rolling update, so a trigger keeps the two columns
-- in step until a later release drops `contact` (the contract step).
ALTER TABLE customers ADD COLUMN contact text;
ALTER TABLE customers ADD COLUMN email text;

UPDATE customers SET email = contact WHERE email IS NULL AND contact IS NOT NULL;

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
