-- label: unsafe
-- why: a new enum value cannot be used before its ADD VALUE commits (55P04)
ALTER TYPE mood ADD VALUE 'meh';
UPDATE small SET m = 'meh' WHERE id = 1;
