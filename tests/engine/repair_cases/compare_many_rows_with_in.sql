# title: equality with a many-row subquery becomes membership
# schema: zoo
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT k.keeper_id FROM keeper AS k WHERE k.age > 30);
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id IN (SELECT k.keeper_id FROM keeper AS k WHERE k.age > 30);

# title: equality with an aggregate over the whole subquery stays
# schema: zoo
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT max(k.keeper_id) FROM keeper AS k);
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT MAX(k.keeper_id) FROM keeper AS k);

# title: equality with a LIMIT 1 subquery stays
# schema: zoo
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT k.keeper_id FROM keeper AS k LIMIT 1);
SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT k.keeper_id FROM keeper AS k LIMIT 1);
