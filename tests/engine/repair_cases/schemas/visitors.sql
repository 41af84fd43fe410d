-- Keepers and visitors: no key links them, and both have a city.
CREATE TABLE keeper (keeper_id BIGINT, name VARCHAR, city VARCHAR);
CREATE TABLE visitor (visitor_id BIGINT, city VARCHAR, ticket VARCHAR);
