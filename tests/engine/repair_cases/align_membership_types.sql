# title: membership between a number and a text column compares text
# schema: zoo
SELECT a.name FROM animal AS a WHERE NOT a.keeper_id IN (SELECT k.home_zone FROM keeper AS k);
SELECT a.name FROM animal AS a WHERE NOT CAST(a.keeper_id AS TEXT) IN (SELECT k.home_zone FROM keeper AS k);

# title: membership between columns of one type stays
# schema: zoo
SELECT a.name FROM animal AS a WHERE a.keeper_id IN (SELECT k.keeper_id FROM keeper AS k);
SELECT a.name FROM animal AS a WHERE a.keeper_id IN (SELECT k.keeper_id FROM keeper AS k);
