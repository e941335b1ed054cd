-- label: unsafe
-- why: the FK validates 300 000 rows under SHARE ROW EXCLUSIVE on big and customers
ALTER TABLE big ADD CONSTRAINT big_cust_fk FOREIGN KEY (cust) REFERENCES customers (id);
