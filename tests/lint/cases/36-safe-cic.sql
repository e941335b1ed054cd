-- label: safe
-- why: CONCURRENTLY lets reads and writes go on; schemagate runs the script outside a transaction
CREATE INDEX CONCURRENTLY big_note ON big (note);
