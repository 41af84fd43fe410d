-- The service's read-only login on PostgreSQL. Replace analytics_reader, 'change-me', shop (the database)
-- and sales (the schema: list several as sales, public) with yours, then run it in that database as the
-- owner of its tables or a superuser: psql -d shop -f docs/read-only-role/postgresql.sql
CREATE ROLE analytics_reader LOGIN PASSWORD 'change-me';
GRANT CONNECT ON DATABASE shop TO analytics_reader;
GRANT USAGE ON SCHEMA sales TO analytics_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO analytics_reader;
-- Tables and views created later in the schema are readable too, when the role running this creates
-- them (for tables another role creates, add FOR ROLE that_role after DEFAULT PRIVILEGES).
ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT SELECT ON TABLES TO analytics_reader;
-- Every transaction of the login starts READ ONLY, as the service asks anyway.
ALTER ROLE analytics_reader SET default_transaction_read_only = on;
-- Nothing to create: PUBLIC, and so every role, may create temporary tables in a database and, before
-- PostgreSQL 15, tables in its public schema. Grant TEMPORARY back to the roles that need it.
REVOKE TEMPORARY ON DATABASE shop FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
