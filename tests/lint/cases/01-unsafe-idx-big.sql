-- label: unsafe
-- why: CREATE INDEX without CONCURRENTLY on big (300 000 rows) blocks its writes for the whole build
CREATE INDEX big_note ON big (note);
