/* outer /* inner */ the outer one is never closed;
SELECT 1;
