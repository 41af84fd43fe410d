# title: a column spelled with other case and separators takes the stored spelling
# schema: zoo
SELECT max(a.weight), KindCode FROM animal AS a GROUP BY kindCode;
SELECT MAX(a.weight), kind_code FROM animal AS a GROUP BY kind_code;

# title: an output alias is not respelled
# schema: zoo
SELECT count(*) AS KeeperId FROM animal AS a ORDER BY KeeperId;
SELECT COUNT(*) AS KeeperId FROM animal AS a ORDER BY KeeperId;
