-- Keepers look after animals, each of a kind, and animals are fed; ages and weights are stored as text.
CREATE TABLE keeper (keeper_id BIGINT, name VARCHAR, age VARCHAR, home_zone VARCHAR REFERENCES zone (zone_code));
CREATE TABLE zone (zone_code VARCHAR, zone_name VARCHAR);
CREATE TABLE animal (
    animal_id BIGINT,
    name VARCHAR,
    kind_code VARCHAR REFERENCES kind (kind_code),
    keeper_id BIGINT REFERENCES keeper (keeper_id),
    weight VARCHAR
);
CREATE TABLE kind (kind_code VARCHAR, kind_description VARCHAR);
CREATE TABLE feeding (feeding_id BIGINT, animal_id BIGINT REFERENCES animal (animal_id), food VARCHAR);
