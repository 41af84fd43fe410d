# title: a value stored in the referenced table is looked up there
# schema: zones
SELECT k.name FROM keeper AS k WHERE k.home_zone = 'north';
SELECT k.name FROM keeper AS k WHERE k.home_zone IN (SELECT zone.zone_code FROM zone WHERE zone.zone_name = 'North');

# title: a value stored in another case takes the stored spelling
# schema: zones
SELECT k.name FROM keeper AS k WHERE k.home_zone = 'z2';
SELECT k.name FROM keeper AS k WHERE k.home_zone = 'Z2';
