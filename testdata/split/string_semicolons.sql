INSERT INTO note (body) VALUES ('first; second');
INSERT INTO note (body) VALUES ('it''s; fine'), ('--not a comment'), ('/* nor this */');
SELECT 'a'
       'continued; literal';
SELECT 'C:\path\'; SELECT 2;
