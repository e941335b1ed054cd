-- schemagate:contract
--
-- Step 3 of 3: CONTRACT. Release 1.0 still reads `contact`, so this script must not run
-- while a 1.0 pod is connected. schemagate looks at pg_stat_activity for sessions named
-- `<app>/<version>` (the app sets PGAPPNAME, e.g. shop/1.1) other than the release being
-- rolled out (SCHEMAGATE_APP=shop, SCHEMAGATE_APP_VERSION=1.1). While one is there, this
-- script and every later one are deferred and the run still exits 0; the chart's
-- post-upgrade hook waits for the old pods to drain, and otherwise the next release's
-- pre-upgrade hook runs it.
DROP TRIGGER customers_sync_email ON customers;
DROP FUNCTION customers_sync_email();
ALTER TABLE customers DROP COLUMN contact;
