-- Non-ASCII identifiers, strings and dollar-quote tags.
CREATE TABLE größe (maße text, "naïve;" text);
INSERT INTO größe VALUES ('ünïcødé; 🎉', $é$ ; $é$);
SELECT 'こんにちは; 世界' AS greeting, 日本語 FROM größe;
SELECT $ü$ ; $ü$ AS tag;
