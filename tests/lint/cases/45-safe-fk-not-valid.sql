-- label: safe
-- why: NOT VALID skips the scan; the lock is brief
ALTER TABLE big ADD CONSTRAINT big_cust_fk FOREIGN KEY (cust) REFERENCES customers (id) NOT VALID;
