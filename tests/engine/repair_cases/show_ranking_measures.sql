# title: the aggregate that ranks the rows is shown beside them
# schema: zoo
SELECT k.name FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY count(*) DESC LIMIT 3;
SELECT k.name, COUNT(*) FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY COUNT(*) DESC LIMIT 3;

# title: a measure shown under an alias stays as it is
# schema: zoo
SELECT k.name, count(*) AS animals FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY animals DESC LIMIT 3;
SELECT k.name, COUNT(*) AS animals FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY animals DESC LIMIT 3;

# title: without a limit the order is a sort, not a ranking
# schema: zoo
SELECT k.name FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY count(*) DESC;
SELECT k.name FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY COUNT(*) DESC;

# title: a DISTINCT list keeps its columns
# schema: zoo
SELECT DISTINCT k.name FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY count(*) DESC LIMIT 3;
SELECT DISTINCT k.name FROM keeper AS k JOIN animal AS a ON a.keeper_id = k.keeper_id GROUP BY k.name ORDER BY COUNT(*) DESC LIMIT 3;
