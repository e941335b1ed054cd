-- label: unsafe
-- why: a contract script runs after the rollout: the new version starts without the column
-- schemagate:contract
ALTER TABLE big ADD COLUMN z int;
