# title: a join on a column equal to itself is pointed at the joined table
# schema: zoo
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t1.keeper_id;
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id;

# title: a join on a column equal to itself follows the declared key
# schema: zoo
SELECT t1.name FROM feeding AS t2 JOIN animal AS t1 ON t2.animal_id = t2.animal_id;
SELECT t1.name FROM feeding AS t2 JOIN animal AS t1 ON t2.animal_id = t1.animal_id;

# title: a join on a key column equal to itself takes the joined table's column
# schema: zoo
SELECT t2.food FROM kind AS t1 JOIN animal AS t2 ON t1.kind_code = t1.kind_code;
SELECT t2.food FROM kind AS t1 JOIN animal AS t2 ON t1.kind_code = t2.kind_code;

# title: the declared key names the joined table's column, under another name
# schema: zoo
SELECT t2.zone_name FROM keeper AS t1 JOIN zone AS t2 ON t1.home_zone = t1.home_zone;
SELECT t2.zone_name FROM keeper AS t1 JOIN zone AS t2 ON t1.home_zone = t2.zone_code;

# title: a column equal to itself that no key or joined column speaks of stays
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t1.age;
SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t1.age;

# title: a join that links nothing reads its columns from the first table, which has them all
# schema: visitors
SELECT t1.name FROM keeper AS t1 JOIN visitor AS t2 ON t1.keeper_id = t1.keeper_id WHERE t2.city LIKE '%West%';
SELECT t1.name FROM keeper AS t1 WHERE t1.city LIKE '%West%';

# title: a join that links nothing stays when it reads a column only the joined table has
# schema: visitors
SELECT t1.name FROM keeper AS t1 JOIN visitor AS t2 ON t1.keeper_id = t1.keeper_id WHERE t2.ticket = 'day';
SELECT t1.name FROM keeper AS t1 JOIN visitor AS t2 ON t1.keeper_id = t1.keeper_id WHERE t2.ticket = 'day';
