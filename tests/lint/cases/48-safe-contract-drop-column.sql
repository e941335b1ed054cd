-- label: safe
-- why: a contract script runs once no old app version is connected
-- schemagate:contract
ALTER TABLE big DROP COLUMN note;
