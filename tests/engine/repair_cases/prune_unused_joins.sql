# title: a joined table used only in its ON and not asked about is dropped
# schema: zoo
# question: Which animals weigh the most?
SELECT t1.name FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id ORDER BY t1.weight DESC;
SELECT t1.name FROM animal AS t1 ORDER BY t1.weight DESC;

# title: a FROM table used only to join gives way to the joined table
# schema: zoo
# question: Which kinds do the heaviest animals belong to?
SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id JOIN kind AS t3 ON t2.kind_code = t3.kind_code ORDER BY t2.weight DESC LIMIT 3;
SELECT t3.kind_description FROM animal AS t2 JOIN kind AS t3 ON t2.kind_code = t3.kind_code ORDER BY t2.weight DESC LIMIT 3;

# title: a count counts the joined rows: the first table may be what is counted
# schema: zoo
# question: Which kinds do the heaviest animals belong to?
SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id JOIN kind AS t3 ON t2.kind_code = t3.kind_code GROUP BY t3.kind_description ORDER BY count(*) DESC;
SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id JOIN kind AS t3 ON t2.kind_code = t3.kind_code GROUP BY t3.kind_description ORDER BY COUNT(*) DESC;

# title: a FROM table the question names stays
# schema: zoo
# question: Which kinds do the heaviest animals that keepers look after belong to?
SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id JOIN kind AS t3 ON t2.kind_code = t3.kind_code ORDER BY t2.weight DESC LIMIT 3;
SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id JOIN kind AS t3 ON t2.kind_code = t3.kind_code ORDER BY t2.weight DESC LIMIT 3;

# title: a FROM table read elsewhere in the query stays
# schema: zoo
# question: Which kinds do the heaviest animals belong to?
SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > '30';
SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > '30';

# title: a join whose ON reads only itself is dropped even when named (every animal times every such keeper)
# schema: zoo
# question: Which animals do the keepers look after?
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age;
SELECT t1.name FROM animal AS t1;

# title: each half of a set operation is judged on its own, though both call the keeper t2
# schema: zoo
# question: Which animals do the keepers look after?
SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age INTERSECT SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age;
SELECT t1.name FROM animal AS t1 INTERSECT SELECT t1.name FROM animal AS t1;

# title: a joined table the question names is kept
# schema: zoo
# question: Which animals have had a feeding?
SELECT t1.name FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id;
SELECT t1.name FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id;

# title: a joined table the query uses is kept
# schema: zoo
# question: Which animals?
SELECT t1.name, t2.food FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id;
SELECT t1.name, t2.food FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id;
