SELECT B'1010', X'1F;2A', N'nat;ional';
SELECT U&'d\0061t\+000061; U&', U&"col;umn" FROM t;
SELECT U&'\0441' UESCAPE '\';
