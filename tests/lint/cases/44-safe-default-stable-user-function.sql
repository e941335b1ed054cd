-- label: safe
-- why: the catalog says stable_region() is STABLE: no rewrite
ALTER TABLE big ADD COLUMN region text DEFAULT stable_region();
