-- label: unsafe
-- why: VACUUM FULL rewrites big under ACCESS EXCLUSIVE
VACUUM FULL big;
