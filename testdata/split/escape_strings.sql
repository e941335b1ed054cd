SELECT E'\'';
SELECT e'it\'s; still one string', E'back\\slash;';
SELECT E'quote '' and \' mixed; done' AS x;
SELECT E'\\'; SELECT 'after';
