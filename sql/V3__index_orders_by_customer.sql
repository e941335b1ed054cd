-- CONCURRENTLY builds the index without blocking writes. PostgreSQL refuses it inside a
-- transaction block, so schemagate runs this script on its own, outside a transaction;
-- if it fails, the INVALID index it leaves is dropped and the run stops with exit 3.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
