# title: bare selected columns keep the groups the query names
# schema: zoo
SELECT t1.keeper_id, t1.name, count(*) FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.keeper_id ORDER BY t1.age DESC;
SELECT t1.keeper_id, ANY_VALUE(t1.name) AS name, COUNT(*) FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.keeper_id ORDER BY ANY_VALUE(t1.age) DESC;

# title: GROUP BY position is left alone
# schema: zoo
SELECT t1.name, count(*) FROM keeper AS t1 GROUP BY 1;
SELECT t1.name, COUNT(*) FROM keeper AS t1 GROUP BY 1;
