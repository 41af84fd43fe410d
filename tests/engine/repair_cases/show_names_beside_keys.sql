# title: a key shown alone gets its row's name beside it
# schema: staff
SELECT e.employee_id, e.hired_on FROM employee AS e ORDER BY e.hired_on LIMIT 1;
SELECT e.employee_id, e.name, e.hired_on FROM employee AS e ORDER BY e.hired_on LIMIT 1;

# title: a grouped key gets its name in the groups too
# schema: staff
SELECT e.employee_id, count(*) FROM employee AS e JOIN review AS r ON r.employee_id = e.employee_id GROUP BY e.employee_id;
SELECT e.employee_id, e.name, COUNT(*) FROM employee AS e JOIN review AS r ON r.employee_id = e.employee_id GROUP BY e.employee_id, e.name;

# title: a name shown already stays the only one
# schema: staff
SELECT e.employee_id, e.name FROM employee AS e;
SELECT e.employee_id, e.name FROM employee AS e;

# title: a total over all rows shows no key to name
# schema: staff
SELECT count(e.employee_id) FROM employee AS e;
SELECT COUNT(e.employee_id) FROM employee AS e;
