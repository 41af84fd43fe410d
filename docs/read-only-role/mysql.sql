-- The service's read-only login on MySQL or MariaDB. Replace analytics_reader, 'change-me', shop (the
-- database: one GRANT for each database the source reads) and '%' (any host: better the service's own
-- address) with yours, then run it as an administrator: mysql -u root < docs/read-only-role/mysql.sql
CREATE USER 'analytics_reader'@'%' IDENTIFIED BY 'change-me';
-- Reading tables and views of that database, and nothing else: no FILE (LOAD_FILE reads nothing, INTO
-- OUTFILE is refused), no PROCESS, no SUPER, no privilege on any other database.
GRANT SELECT, SHOW VIEW ON `shop`.* TO 'analytics_reader'@'%';
