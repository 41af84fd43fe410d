# title: an aggregate in WHERE becomes a HAVING grouped by the shown columns
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > 30 AND count(t2.animal_id) > 2;
SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > 30 GROUP BY t1.name HAVING COUNT(t2.animal_id) > 2;

# title: an aggregate inside a WHERE subquery stays there
# schema: zoo
SELECT t1.name FROM animal AS t1 WHERE t1.weight > (SELECT avg(weight) FROM animal);
SELECT t1.name FROM animal AS t1 WHERE t1.weight > (SELECT AVG(weight) FROM animal);
