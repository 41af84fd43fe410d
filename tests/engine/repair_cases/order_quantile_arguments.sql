# title: the fraction first, as standard SQL's percentile_cont(0.9) WITHIN GROUP puts it
# schema: zoo
SELECT quantile_cont(0.9, TRY_CAST(t1.weight AS DOUBLE)) FROM animal AS t1;
SELECT QUANTILE_CONT(TRY_CAST(t1.weight AS DOUBLE), 0.9) FROM animal AS t1;

# title: the median of a discrete percentile, written the other way round
# schema: zoo
SELECT quantile_disc(0.5, t1.animal_id) FROM animal AS t1;
SELECT QUANTILE_DISC(t1.animal_id, 0.5) FROM animal AS t1;

# title: DuckDB's own order stays
# schema: zoo
SELECT quantile_cont(t1.animal_id, 0.25) FROM animal AS t1;
SELECT QUANTILE_CONT(t1.animal_id, 0.25) FROM animal AS t1;
