-- E-strings take backslash escapes: E'\'' is one quote, and a ; inside stays inside.
SELECT E'\'';
SELECT E'it\'s; fine' AS a, e'\\' AS backslash, E'\\\'' AS both;
INSERT INTO notes (body) VALUES (E'line one;\nline two -- not a comment'), (E'/* not a comment */');
SELECT E'a''b\'c' AS mixed_quotes;
SELECT 'C:\path\' AS standard_string_keeps_backslash;
SELECT E'\x41\101\u0041' AS escapes;
