# title: a column moves to the one table of FROM that has it
# schema: zoo
SELECT T1.food FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id;
SELECT T2.food FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id;

# title: a column two tables of FROM have stays
# schema: zoo
SELECT T1.name FROM feeding AS T1 JOIN animal AS T2 ON T1.animal_id = T2.animal_id JOIN keeper AS T3 ON T2.keeper_id = T3.keeper_id;
SELECT T1.name FROM feeding AS T1 JOIN animal AS T2 ON T1.animal_id = T2.animal_id JOIN keeper AS T3 ON T2.keeper_id = T3.keeper_id;
