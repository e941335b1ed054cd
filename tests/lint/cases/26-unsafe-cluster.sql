-- label: unsafe
-- why: CLUSTER rewrites big under ACCESS EXCLUSIVE
CLUSTER big USING big_pkey;
