-- A string continued on a later line is one literal; after E'...' the continuation takes escapes too.
SELECT E'first\n'
'it\'s; still the same string' AS s;
SELECT E'a' -- a comment between the parts
  '\'; -- and this' AS t;
SELECT 'plain'
'no \' AS u;
