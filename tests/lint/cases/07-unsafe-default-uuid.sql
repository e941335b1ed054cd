-- label: unsafe
-- why: gen_random_uuid() is volatile: a rewrite of big
ALTER TABLE big ADD COLUMN u uuid DEFAULT gen_random_uuid();
