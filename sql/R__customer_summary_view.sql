-- A repeatable migration: re-applied whenever this file changes.
CREATE OR REPLACE VIEW customer_summary AS
SELECT c.id,
       c.name,
       c.status,
       count(o.id)                  AS orders,
       coalesce(sum(o.total_cents), 0) AS total_cents
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name, c.status;
