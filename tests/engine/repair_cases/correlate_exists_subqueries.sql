# title: the outer table joined again inside NOT EXISTS is the outer row
# schema: zoo
SELECT k.name FROM keeper AS k WHERE NOT EXISTS (SELECT 1 FROM animal AS a JOIN keeper AS k ON a.keeper_id = k.keeper_id WHERE k.keeper_id = a.keeper_id);
SELECT k.name FROM keeper AS k WHERE NOT EXISTS(SELECT 1 FROM animal AS a WHERE k.keeper_id = a.keeper_id);

# title: a subquery that correlates already stays
# schema: zoo
SELECT k.name FROM keeper AS k WHERE NOT EXISTS (SELECT 1 FROM animal AS a WHERE a.keeper_id = k.keeper_id);
SELECT k.name FROM keeper AS k WHERE NOT EXISTS(SELECT 1 FROM animal AS a WHERE a.keeper_id = k.keeper_id);

# title: a join of another table inside stays
# schema: zoo
SELECT k.name FROM keeper AS k WHERE EXISTS (SELECT 1 FROM animal AS a JOIN kind AS d ON a.kind_code = d.kind_code WHERE d.kind_description = 'bird' AND a.keeper_id = k.keeper_id);
SELECT k.name FROM keeper AS k WHERE EXISTS(SELECT 1 FROM animal AS a JOIN kind AS d ON a.kind_code = d.kind_code WHERE d.kind_description = 'bird' AND a.keeper_id = k.keeper_id);

# title: an inner copy the condition does not name stays
# schema: zoo
SELECT k.name FROM keeper AS k WHERE EXISTS (SELECT 1 FROM animal AS a JOIN keeper AS k ON a.keeper_id = k.keeper_id WHERE a.weight > '10');
SELECT k.name FROM keeper AS k WHERE EXISTS(SELECT 1 FROM animal AS a JOIN keeper AS k ON a.keeper_id = k.keeper_id WHERE a.weight > '10');
