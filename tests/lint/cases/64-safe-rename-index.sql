-- label: safe
-- why: an index's name is not the app's interface
ALTER INDEX big_a RENAME TO big_a_idx;
