# title: a rate is a fraction, not a percentage
# schema: zoo
# question: What is the feeding rate of carrots per animal?
SELECT 100.0 * COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*) FROM feeding AS t1;
SELECT COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*) FROM feeding AS t1;

# title: a share written times 100 at the end
# schema: zoo
# question: What share of feedings are carrots?
SELECT AVG(CASE WHEN t1.food = 'carrots' THEN 1.0 ELSE 0.0 END) * 100 AS share FROM feeding AS t1;
SELECT AVG(CASE WHEN t1.food = 'carrots' THEN 1.0 ELSE 0.0 END) AS share FROM feeding AS t1;

# title: a percentage asked for and written as a fraction
# schema: zoo
# question: What percentage of feedings are carrots?
SELECT COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*) AS pct FROM feeding AS t1;
SELECT 100 * (COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*)) AS pct FROM feeding AS t1;

# title: a percentage already times 100 stays
# schema: zoo
# question: What percent of feedings are carrots?
SELECT 100.0 * COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*) FROM feeding AS t1;
SELECT 100.0 * COUNT(CASE WHEN t1.food = 'carrots' THEN 1 END) / COUNT(*) FROM feeding AS t1;

# title: a product that is no share stays
# schema: zoo
# question: What is the total weight of the animals?
SELECT SUM(TRY_CAST(t1.weight AS DOUBLE)) * 100 FROM animal AS t1;
SELECT SUM(TRY_CAST(t1.weight AS DOUBLE)) * 100 FROM animal AS t1;
