# title: no match counted over an inner join means NOT IN (the keepers with no animal)
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > '30' GROUP BY t1.name HAVING count(*) = 0;
SELECT t1.name FROM keeper AS t1 WHERE t1.age > '30' AND NOT t1.keeper_id IN (SELECT t2.keeper_id FROM animal AS t2);

# title: a LEFT JOIN counting a joined column is the right way to write it
# schema: zoo
SELECT t1.name FROM keeper AS t1 LEFT JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.name HAVING count(t2.animal_id) = 0;
SELECT t1.name FROM keeper AS t1 LEFT JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.name HAVING COUNT(t2.animal_id) = 0;

# title: a count other than zero stays
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.name HAVING count(*) = 2;
SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t1.name HAVING COUNT(*) = 2;

# title: an output from the joined table stays
# schema: zoo
SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t2.name HAVING count(*) = 0;
SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id GROUP BY t2.name HAVING COUNT(*) = 0;
