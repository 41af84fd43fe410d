# title: a join to a table two keys away goes through the table between
# schema: zoo
SELECT k.name FROM keeper AS k JOIN feeding AS f ON k.keeper_id = f.keeper_id WHERE f.food = 'fish';
SELECT k.name FROM keeper AS k JOIN animal AS animal ON k.keeper_id = animal.keeper_id JOIN feeding AS f ON animal.animal_id = f.animal_id WHERE f.food = 'fish';

# title: a join with a declared key is left to the other repairs
# schema: zoo
SELECT k.name FROM keeper AS k JOIN animal AS a ON k.keeper_id = a.keeper_ref;
SELECT k.name FROM keeper AS k JOIN animal AS a ON k.keeper_id = a.keeper_ref;
