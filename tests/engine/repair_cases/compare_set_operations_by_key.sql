# title: names EXCEPT ids become key membership
# schema: zoo
SELECT k.name FROM keeper AS k EXCEPT SELECT a.keeper_id FROM animal AS a WHERE a.weight > 100;
SELECT k.name FROM keeper AS k WHERE NOT k.keeper_id IN (SELECT a.keeper_id FROM animal AS a WHERE a.weight > 100);

# title: names INTERSECT ids become key membership
# schema: zoo
SELECT k.name FROM keeper AS k INTERSECT SELECT a.keeper_id FROM animal AS a;
SELECT k.name FROM keeper AS k WHERE k.keeper_id IN (SELECT a.keeper_id FROM animal AS a);

# title: a set operation of like columns stays
# schema: zoo
SELECT k.keeper_id FROM keeper AS k EXCEPT SELECT a.keeper_id FROM animal AS a;
SELECT k.keeper_id FROM keeper AS k EXCEPT SELECT a.keeper_id FROM animal AS a;
