# title: grouped columns are shown beside the aggregate
# schema: zoo
SELECT avg(animal.weight) FROM animal GROUP BY animal.kind_code;
SELECT AVG(animal.weight), animal.kind_code FROM animal GROUP BY animal.kind_code;

# title: a grouped column shown already stays
# schema: zoo
SELECT animal.kind_code, count(*) FROM animal GROUP BY animal.kind_code;
SELECT animal.kind_code, COUNT(*) FROM animal GROUP BY animal.kind_code;

# title: a subquery's columns are fixed by where it is used
# schema: zoo
SELECT keeper.name FROM keeper WHERE keeper.keeper_id IN (SELECT animal.keeper_id FROM animal GROUP BY animal.keeper_id, animal.kind_code);
SELECT keeper.name FROM keeper WHERE keeper.keeper_id IN (SELECT animal.keeper_id FROM animal GROUP BY animal.keeper_id, animal.kind_code);
