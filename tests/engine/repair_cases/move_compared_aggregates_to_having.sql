# title: a compared average moves to HAVING
# schema: zoo
# question: Show the average weight of each kind whose average weight is less than 72.
SELECT t1.kind_code, avg(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' AND t1.weight < 72 GROUP BY t1.kind_code;
SELECT t1.kind_code, AVG(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' GROUP BY t1.kind_code HAVING AVG(t1.weight) < 72;

# title: rows compared, not the average: the WHERE stays
# schema: zoo
# question: Show the average weight of animals lighter than 72 for each kind.
SELECT t1.kind_code, avg(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' AND t1.weight < 72 GROUP BY t1.kind_code;
SELECT t1.kind_code, AVG(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' AND t1.weight < 72 GROUP BY t1.kind_code;

# title: no aggregate of the compared column shown: nothing to move
# schema: zoo
# question: Show the average weight of each kind whose average weight is less than 72.
SELECT t1.kind_code, avg(t1.animal_id) FROM animal AS t1 WHERE t1.weight < 72 GROUP BY t1.kind_code;
SELECT t1.kind_code, AVG(t1.animal_id) FROM animal AS t1 WHERE t1.weight < 72 GROUP BY t1.kind_code;

# title: no grouping: nothing to move
# schema: zoo
# question: Show the average weight of each kind whose average weight is less than 72.
SELECT avg(t1.weight) FROM animal AS t1 WHERE t1.weight < 72;
SELECT AVG(t1.weight) FROM animal AS t1 WHERE t1.weight < 72;
