# title: a year written the SQLite way is the year as a number
# schema: staff
SELECT strftime('%Y', e.hired_on) AS hired, count(*) FROM employee AS e GROUP BY 1;
SELECT YEAR(e.hired_on) AS hired, COUNT(*) FROM employee AS e GROUP BY 1;

# title: a month compared with a text literal, in DuckDB's argument order
# schema: staff
SELECT e.name FROM employee AS e WHERE strftime(e.hired_on, '%m') = '03';
SELECT e.name FROM employee AS e WHERE MONTH(e.hired_on) = '03';

# title: a year and month together stays text
# schema: staff
SELECT strftime('%Y-%m', e.hired_on), count(*) FROM employee AS e GROUP BY 1;
SELECT STRFTIME('%Y-%m', e.hired_on), COUNT(*) FROM employee AS e GROUP BY 1;

# title: a part matched with LIKE stays text
# schema: staff
SELECT e.name FROM employee AS e WHERE strftime('%Y', e.hired_on) LIKE '20%';
SELECT e.name FROM employee AS e WHERE STRFTIME('%Y', e.hired_on) LIKE '20%';
