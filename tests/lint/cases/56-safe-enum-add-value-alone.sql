-- label: safe
-- why: ADD VALUE alone, used only in a later script
ALTER TYPE mood ADD VALUE 'meh';
