# title: below the table's own minimum is no row at all: heavier than the lightest
# schema: zoo
SELECT t1.name FROM animal AS t1 WHERE t1.weight < (SELECT min(weight) FROM animal);
SELECT t1.name FROM animal AS t1 WHERE t1.weight > (SELECT MIN(weight) FROM animal);

# title: the extreme written on the left
# schema: zoo
SELECT name FROM animal WHERE (SELECT max(weight) FROM animal) < weight;
SELECT name FROM animal WHERE (SELECT MAX(weight) FROM animal) > weight;

# title: a comparison some row can meet stays
# schema: zoo
SELECT name FROM animal WHERE weight > (SELECT min(weight) FROM animal);
SELECT name FROM animal WHERE weight > (SELECT MIN(weight) FROM animal);

# title: the extreme of some rows only stays
# schema: zoo
SELECT name FROM animal WHERE weight < (SELECT min(weight) FROM animal WHERE kind_code = 'cat');
SELECT name FROM animal WHERE weight < (SELECT MIN(weight) FROM animal WHERE kind_code = 'cat');

# title: the extreme of another column stays
# schema: zoo
SELECT name FROM keeper WHERE age < (SELECT min(weight) FROM animal);
SELECT name FROM keeper WHERE age < (SELECT MIN(weight) FROM animal);

# title: the extreme of another table stays
# schema: zoo
SELECT t1.name FROM keeper AS t1 WHERE t1.age < (SELECT min(age) FROM animal);
SELECT t1.name FROM keeper AS t1 WHERE t1.age < (SELECT MIN(age) FROM animal);
