-- label: safe
-- why: a constant default is stored in the catalog; old INSERTs get it
ALTER TABLE big ADD COLUMN flag boolean NOT NULL DEFAULT false;
