# title: do not have means not among those who have
# schema: zoo
# question: Which keepers do not look after a lion?
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description <> 'lion';
SELECT keeper.name FROM keeper WHERE NOT keeper.keeper_id IN (SELECT animal.keeper_id FROM animal JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'lion');

# title: without a negation in the question, <> is what was asked
# schema: zoo
# question: Which keepers look after animals other than lions?
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description <> 'lion';
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description <> 'lion';

# title: a column of the joined table in the output keeps the join
# schema: zoo
# question: Which animals are not 10 kg?
SELECT keeper.name, animal.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id WHERE animal.weight <> '10';
SELECT keeper.name, animal.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id WHERE animal.weight <> '10';

# title: has one but not another keeps the join for the one (= 'tiger' AND <> 'lion' says no more than = 'tiger')
# schema: zoo
# question: Which keepers look after a tiger but not a lion?
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'tiger' AND kind.kind_description <> 'lion';
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'tiger' AND NOT keeper.keeper_id IN (SELECT animal.keeper_id FROM animal JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'lion');

# title: an = on another column of the joined table is a filter of its own: the join stays
# schema: zoo
# question: Which keepers of Rex are not 10 kg?
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id WHERE animal.name = 'Rex' AND animal.weight <> '10';
SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id WHERE animal.name = 'Rex' AND animal.weight <> '10';
