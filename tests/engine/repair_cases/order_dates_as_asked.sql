# title: the longest-serving is the earliest hire
# schema: staff
# question: Which employee has served the longest? Give the longest-serving one.
SELECT e.name FROM employee AS e ORDER BY e.hired_on DESC LIMIT 1;
SELECT e.name FROM employee AS e ORDER BY e.hired_on LIMIT 1;

# title: the youngest is the latest birth date, through an output alias
# schema: staff
# question: Name the youngest employee.
SELECT e.name, e.born_on AS born FROM employee AS e ORDER BY born ASC LIMIT 1;
SELECT e.name, e.born_on AS born FROM employee AS e ORDER BY born DESC LIMIT 1;

# title: a first name is a column, not a superlative
# schema: staff
# question: What is the first name of the newest employee?
SELECT e.first_name FROM employee AS e ORDER BY e.hired_on ASC LIMIT 1;
SELECT e.first_name FROM employee AS e ORDER BY e.hired_on DESC LIMIT 1;

# title: an order that already agrees stays
# schema: staff
# question: Who was hired first?
SELECT e.name FROM employee AS e ORDER BY e.hired_on LIMIT 1;
SELECT e.name FROM employee AS e ORDER BY e.hired_on LIMIT 1;

# title: an age stored as a number is no date: the oldest has the highest age
# schema: staff
# question: Who is the oldest employee?
SELECT e.name FROM employee AS e ORDER BY e.age DESC LIMIT 1;
SELECT e.name FROM employee AS e ORDER BY e.age DESC LIMIT 1;

# title: both kinds of superlative leave the order alone
# schema: staff
# question: Of the employees hired last year, who is the oldest?
SELECT e.name FROM employee AS e ORDER BY e.born_on DESC LIMIT 1;
SELECT e.name FROM employee AS e ORDER BY e.born_on DESC LIMIT 1;
