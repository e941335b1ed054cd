-- label: unsafe
-- why: a serial column fills every row from a sequence: a rewrite
ALTER TABLE big ADD COLUMN seq bigserial;
