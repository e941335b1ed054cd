-- label: unsafe
-- why: the old app version still reads big.note during the rollout
ALTER TABLE big DROP COLUMN note;
