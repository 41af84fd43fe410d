-- Employees with their hiring and birth dates and an age stored as a number; reviews of their work.
CREATE TABLE employee (employee_id BIGINT PRIMARY KEY, name VARCHAR, first_name VARCHAR, hired_on DATE, born_on DATE, age BIGINT);
CREATE TABLE review (review_id BIGINT PRIMARY KEY, employee_id BIGINT REFERENCES employee (employee_id), score BIGINT);
