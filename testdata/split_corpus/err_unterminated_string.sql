SELECT 'it''s fine';
SELECT 'this one is never closed;
SELECT 2;
