SELECT B'1010', X'1F', N'national; text', U&'d\0061t\+000061;';
SELECT U&'!0041;' UESCAPE '!';
SELECT b'1' AS lower_b, x'ff' AS lower_x, n'n' AS lower_n;
