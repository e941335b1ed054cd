-- label: safe
-- why: schemagate runs a backfill script in short batches until it touches nothing
-- schemagate:backfill
UPDATE big SET note = 'x'
 WHERE id IN (SELECT id FROM big WHERE note IS NULL ORDER BY id
              LIMIT ${schemagate:batch_size} for update skip locked);
