# title: rows a join repeats are listed once
# schema: zoo
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id;
SELECT DISTINCT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id;

# title: no join: duplicates are real rows
# schema: zoo
SELECT keeper.name FROM keeper;
SELECT keeper.name FROM keeper;

# title: a count per group stays
# schema: zoo
SELECT keeper.name, count(*) FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id GROUP BY keeper.name;
SELECT keeper.name, COUNT(*) FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id GROUP BY keeper.name;

# title: a limit stays
# schema: zoo
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id LIMIT 3;
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id LIMIT 3;

# title: every column shown stays
# schema: zoo
SELECT * FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id;
SELECT * FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id;
