-- 注释; kommentar
INSERT INTO stadt (name) VALUES ('Zürich; Genève'), ('東京');
SELECT 'emoji 🎉; done' AS "ß;ä"; SELECT größe FROM maße;
