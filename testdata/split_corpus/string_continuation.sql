-- Adjacent string literals separated by a newline are one literal.
SELECT 'one;'
'two;' AS joined;
SELECT 'a' -- a comment between the parts
  'b; c' AS joined_over_comment;
