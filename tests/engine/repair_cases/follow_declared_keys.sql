# title: a join follows the declared key of its column (animal.keeper_id references keeper.keeper_id, not the age)
# schema: zoo
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.age;
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id;

# title: either side of the pair, and inside an AND
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN zone AS t2 ON t2.zone_name = t1.home_zone AND t1.age > '3';
SELECT t1.name FROM keeper AS t1 JOIN zone AS t2 ON t2.zone_code = t1.home_zone AND t1.age > '3';

# title: two ids no key speaks of, between tables with one declared key, take the key's columns
# schema: zoo
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.animal_id = t2.age;
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id;

# title: the declared pair stays
# schema: zoo
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id;
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id;

# title: same-named columns are a deliberate pairing
# schema: zoo
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.name = t2.name;
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.name = t2.name;

# title: tables without a declared key stay as written
# schema: zoo
SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t2.kind_description;
SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t2.kind_description;
