BEGIN;
CREATE TABLE t (id int);
INSERT INTO t VALUES (1);
COMMIT;
begin transaction isolation level serializable;
end;
