# title: text numbers are cast where used as numbers, not where compared with text
# schema: zoo
SELECT avg(keeper.age) FROM keeper WHERE keeper.age > 30 AND keeper.name = 'Bo' AND keeper.age BETWEEN 1 AND 90 AND keeper.age = '40';
SELECT AVG(TRY_CAST(keeper.age AS DOUBLE)) FROM keeper WHERE TRY_CAST(keeper.age AS DOUBLE) > 30 AND keeper.name = 'Bo' AND TRY_CAST(keeper.age AS DOUBLE) BETWEEN 1 AND 90 AND keeper.age = '40';

# title: a cast of stored text to a number reads bad values as NULL
# schema: zoo
SELECT avg(CAST(t1.weight AS DOUBLE)) FROM animal AS t1;
SELECT AVG(TRY_CAST(t1.weight AS DOUBLE)) FROM animal AS t1;

# title: text compared with an average is cast
# schema: zoo
SELECT count(*) FROM keeper WHERE keeper.age < (SELECT avg(keeper.age) FROM keeper);
SELECT COUNT(*) FROM keeper WHERE TRY_CAST(keeper.age AS DOUBLE) < (SELECT AVG(TRY_CAST(keeper.age AS DOUBLE)) FROM keeper);

# title: number columns are not cast
# schema: zoo
SELECT avg(animal.animal_id) FROM animal WHERE animal.keeper_id > 3;
SELECT AVG(animal.animal_id) FROM animal WHERE animal.keeper_id > 3;
