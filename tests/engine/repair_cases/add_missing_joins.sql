# title: a column of an unjoined table brings its join along the key
# schema: zoo
SELECT T1.name, T2.kind_description FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id;
SELECT T1.name, T3.kind_description FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id INNER JOIN kind AS T3 ON T1.kind_code = T3.kind_code;

# title: every mention of a missing column reads the joined table
# schema: zoo
SELECT T2.kind_description, count(*) FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id GROUP BY T2.kind_description;
SELECT T3.kind_description, COUNT(*) FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id INNER JOIN kind AS T3 ON T1.kind_code = T3.kind_code GROUP BY T3.kind_description;

# title: a table named but not joined is joined
# schema: zoo
SELECT keeper.name, count(animal.animal_id) FROM feeding JOIN animal ON feeding.animal_id = animal.animal_id GROUP BY keeper.name;
SELECT keeper.name, COUNT(animal.animal_id) FROM feeding JOIN animal ON feeding.animal_id = animal.animal_id INNER JOIN keeper AS keeper ON animal.keeper_id = keeper.keeper_id GROUP BY keeper.name;

# title: bare columns stay on their table when a join is added
# schema: zoo
SELECT keeper_id, name, kind_description FROM animal GROUP BY keeper_id;
SELECT animal.keeper_id, animal.name, kind.kind_description FROM animal INNER JOIN kind AS kind ON animal.kind_code = kind.kind_code GROUP BY animal.keeper_id;

# title: a column no joinable table has is left for the error message (feeding does not join keeper directly)
# schema: zoo
SELECT T1.food FROM keeper AS T1;
SELECT T1.food FROM keeper AS T1;

# title: bare columns of a subquery are not joined into the outer query
# schema: zoo
SELECT count(*) FROM animal WHERE keeper_id = (SELECT keeper_id FROM keeper ORDER BY age DESC LIMIT 1);
SELECT COUNT(*) FROM animal WHERE keeper_id = (SELECT keeper_id FROM keeper ORDER BY age DESC LIMIT 1);
