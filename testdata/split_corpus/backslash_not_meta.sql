-- A backslash at the start of a line inside a string or comment is not a meta-command.
SELECT 'first line
\second line starts with a backslash' AS s;
SELECT E'tab\there
\\n' AS e;
/*
\connect inside a comment
*/
SELECT $$
\set inside a dollar quote
$$;
