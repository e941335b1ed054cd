-- label: unsafe
-- why: CASCADE also empties order_lines
TRUNCATE customers CASCADE;
