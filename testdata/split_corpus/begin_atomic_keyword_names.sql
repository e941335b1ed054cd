-- Inside BEGIN ATOMIC, a keyword after `.` or `AS` is a name: p.end must not close the body.
CREATE FUNCTION period_days(p periods) RETURNS int LANGUAGE sql
BEGIN ATOMIC
    SELECT p.end - p.start AS case;
    SELECT 1 AS end;
END;
SELECT p.end, 2 AS begin FROM periods p;
