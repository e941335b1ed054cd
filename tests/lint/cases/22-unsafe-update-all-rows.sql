-- label: unsafe
-- why: one UPDATE of 300 000 rows holds their row locks for its whole length
UPDATE big SET note = 'x';
