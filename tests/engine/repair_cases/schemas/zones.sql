-- A keeper's home zone is stored as a code; the zone's name is stored in the zone table. Every distinct
-- value of the CHECKed columns is profiled.
CREATE TABLE keeper (name VARCHAR, home_zone VARCHAR CHECK (home_zone IN ('Z1', 'Z2')) REFERENCES zone (zone_code));
CREATE TABLE zone (
    zone_code VARCHAR CHECK (zone_code IN ('Z1', 'Z2')),
    zone_name VARCHAR CHECK (zone_name IN ('North', 'South'))
);
