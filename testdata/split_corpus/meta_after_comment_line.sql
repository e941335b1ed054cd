-- switch databases
\c app
SELECT 1;
