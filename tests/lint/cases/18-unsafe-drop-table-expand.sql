-- label: unsafe
-- why: the old app version still uses small
DROP TABLE small;
