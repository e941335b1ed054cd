-- schemagate:backfill
--
-- Step 2 of 3: BACKFILL. One statement that changes at most ${schemagate:batch_size}
-- rows and is run again, each time in its own short transaction, until it changes none.
-- schemagate sizes the batches so that each takes 0.5-2 s (never more than
-- SCHEMAGATE_BATCH_TIMEOUT), pauses between them and while a standby lags, and an
-- interrupted run is resumed by the next one: every finished batch is committed.
--
-- SKIP LOCKED passes over rows the app holds right now; the trigger of V4 fills those
-- when the app writes them. The WHERE leaves out every row already done, so the last
-- batch changes nothing and the backfill ends.
UPDATE customers SET email = contact
 WHERE id IN (SELECT id FROM customers
               WHERE email IS NULL AND contact IS NOT NULL
               ORDER BY id
               LIMIT ${schemagate:batch_size}
               FOR UPDATE SKIP LOCKED);
