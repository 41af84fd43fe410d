"""The deterministic repairs of a draft, on a small invented schema (no database, no model)."""

from __future__ import annotations

import sqlglot

from analytics_chat.engine.linking import ColumnInfo, Join, LinkedSchema, SchemaView, TableInfo, link_schema
from analytics_chat.engine.sql_repair import (
    add_missing_joins,
    aggregates_to_having,
    align_membership_types,
    any_value_of_ungrouped,
    bridge_joins,
    cast_text_numbers,
    compared_aggregates_to_having,
    distinct_joined_rows,
    follow_declared_keys,
    impossible_extremes,
    negated_membership,
    prune_unused_joins,
    repair_join_conditions,
    respell_columns,
    set_operation_keys,
    show_group_columns,
    single_row_comparisons,
    unmatched_rows,
    values_where_stored,
)


def _table(name: str, *columns: tuple[str, str]) -> TableInfo:
    return TableInfo(name, [ColumnInfo(c, t) for c, t in columns])


SCHEMA = SchemaView(
    "zoo",
    "",
    [
        _table("keeper", ("keeper_id", "BIGINT"), ("name", "VARCHAR"), ("age", "VARCHAR"), ("home_zone", "VARCHAR")),
        _table("zone", ("zone_code", "VARCHAR"), ("zone_name", "VARCHAR")),
        _table("animal", ("animal_id", "BIGINT"), ("name", "VARCHAR"), ("kind_code", "VARCHAR"),
               ("keeper_id", "BIGINT"), ("weight", "VARCHAR")),
        _table("kind", ("kind_code", "VARCHAR"), ("kind_description", "VARCHAR")),
        _table("feeding", ("feeding_id", "BIGINT"), ("animal_id", "BIGINT"), ("food", "VARCHAR")),
    ],
    [
        Join("animal", "keeper_id", "keeper", "keeper_id"),
        Join("animal", "kind_code", "kind", "kind_code"),
        Join("feeding", "animal_id", "animal", "animal_id"),
        Join("keeper", "home_zone", "zone", "zone_code"),
    ],
)  # fmt: skip


def linked(question: str = "anything") -> LinkedSchema:
    return link_schema(question, SCHEMA, None, [])


def sql(tree: sqlglot.exp.Expression) -> str:
    return tree.sql(dialect="duckdb")


def parse(text: str) -> sqlglot.exp.Expression:
    return sqlglot.parse_one(text, read="duckdb")


def assert_untouched(repair, *queries: str) -> None:
    """``repair`` (a tree in, a tree out) leaves each query as it is."""
    for query in queries:
        assert sql(repair(parse(query))) == sql(parse(query)), query


def test_a_column_of_an_unjoined_table_brings_its_join_along_the_key():
    tree = parse(
        "SELECT T1.name, T2.kind_description FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id"
    )
    repaired = sql(add_missing_joins(tree, linked()))
    assert "JOIN kind AS T3 ON T1.kind_code = T3.kind_code" in repaired
    assert "T3.kind_description" in repaired


def test_every_mention_of_a_missing_column_reads_the_joined_table():
    tree = parse(
        "SELECT T2.kind_description, count(*) FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id "
        "GROUP BY T2.kind_description"
    )
    repaired = sql(add_missing_joins(tree, linked()))
    assert repaired == (
        "SELECT T3.kind_description, COUNT(*) FROM animal AS T1 JOIN feeding AS T2 ON T1.animal_id = T2.animal_id "
        "INNER JOIN kind AS T3 ON T1.kind_code = T3.kind_code GROUP BY T3.kind_description"
    )


def test_a_table_named_but_not_joined_is_joined():
    tree = parse(
        "SELECT keeper.name, count(animal.animal_id) FROM feeding JOIN animal ON feeding.animal_id = animal.animal_id GROUP BY keeper.name"
    )
    repaired = sql(add_missing_joins(tree, linked()))
    assert "JOIN keeper AS keeper ON animal.keeper_id = keeper.keeper_id" in repaired


def test_a_column_no_joinable_table_has_is_left_for_the_error_message():
    tree = parse("SELECT T1.food FROM keeper AS T1")  # feeding does not join keeper directly
    assert sql(add_missing_joins(tree, linked())) == sql(tree)


def test_a_join_on_a_column_equal_to_itself_is_pointed_at_the_joined_table():
    tree = parse("SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t1.keeper_id")
    assert "ON t1.keeper_id = t2.keeper_id" in sql(repair_join_conditions(tree, linked()))


def test_a_join_on_a_column_equal_to_itself_follows_the_declared_key():
    tree = parse("SELECT t1.name FROM feeding AS t2 JOIN animal AS t1 ON t2.animal_id = t2.animal_id")
    assert "ON t2.animal_id = t1.animal_id" in sql(repair_join_conditions(tree, linked()))
    keyed = parse("SELECT t2.food FROM kind AS t1 JOIN animal AS t2 ON t1.kind_code = t1.kind_code")
    assert "ON t1.kind_code = t2.kind_code" in sql(repair_join_conditions(keyed, linked()))
    renamed = parse("SELECT t2.zone_name FROM keeper AS t1 JOIN zone AS t2 ON t1.home_zone = t1.home_zone")
    assert "ON t1.home_zone = t2.zone_code" in sql(repair_join_conditions(renamed, linked()))
    other = parse("SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t1.age")
    assert sql(repair_join_conditions(other, linked())) == sql(other)


def test_a_join_follows_the_declared_key_of_its_column():
    # animal.keeper_id references keeper.keeper_id, not the keeper's age.
    tree = parse("SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.age")
    assert "ON t1.keeper_id = t2.keeper_id" in sql(follow_declared_keys(tree, linked()))
    # Either side, and inside an AND.
    flipped = parse(
        "SELECT t1.name FROM keeper AS t1 JOIN zone AS t2 ON t2.zone_name = t1.home_zone AND t1.age > '3'"
    )
    assert "ON t2.zone_code = t1.home_zone AND t1.age > '3'" in sql(follow_declared_keys(flipped, linked()))
    # Two ids no key speaks of, between tables with one declared key: the key's columns.
    ids = parse("SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.animal_id = t2.age")
    assert "ON t1.keeper_id = t2.keeper_id" in sql(follow_declared_keys(ids, linked()))
    # The declared pair, same-named columns, and tables without a key stay as written.
    assert_untouched(
        lambda tree: follow_declared_keys(tree, linked()),
        "SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.keeper_id = t2.keeper_id",
        "SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t1.name = t2.name",
        "SELECT t1.name FROM keeper AS t1 JOIN kind AS t2 ON t1.age = t2.kind_description",
    )


def test_no_match_counted_over_an_inner_join_means_not_in():
    # HAVING count(*) = 0 never holds after an inner join: the keepers with no animal were asked for.
    tree = parse(
        "SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "WHERE t1.age > '30' GROUP BY t1.name HAVING count(*) = 0"
    )
    assert sql(unmatched_rows(tree)) == (
        "SELECT t1.name FROM keeper AS t1 WHERE t1.age > '30' AND "
        "NOT t1.keeper_id IN (SELECT t2.keeper_id FROM animal AS t2)"
    )
    assert_untouched(
        unmatched_rows,
        # A LEFT JOIN counting a joined column is the right way to write it.
        "SELECT t1.name FROM keeper AS t1 LEFT JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "GROUP BY t1.name HAVING count(t2.animal_id) = 0",
        "SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "GROUP BY t1.name HAVING count(*) = 2",
        "SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "GROUP BY t2.name HAVING count(*) = 0",
    )


def test_a_join_that_links_nothing_reads_its_columns_from_the_first_table():
    # Nothing links keepers to visitors: every keeper paired with every visitor. Both have a city, so
    # the city asked about is the keeper's own.
    schema = SchemaView(
        "zoo",
        "",
        [
            _table("keeper", ("keeper_id", "BIGINT"), ("name", "VARCHAR"), ("city", "VARCHAR")),
            _table("visitor", ("visitor_id", "BIGINT"), ("city", "VARCHAR"), ("ticket", "VARCHAR")),
        ],
        [],
    )
    visitors = link_schema("anything", schema, None, [])
    tree = parse(
        "SELECT t1.name FROM keeper AS t1 JOIN visitor AS t2 ON t1.keeper_id = t1.keeper_id WHERE t2.city LIKE '%West%'"
    )
    assert (
        sql(repair_join_conditions(tree, visitors))
        == "SELECT t1.name FROM keeper AS t1 WHERE t1.city LIKE '%West%'"
    )
    # A column only the joined table has: the join stays as written.
    ticket = parse(
        "SELECT t1.name FROM keeper AS t1 JOIN visitor AS t2 ON t1.keeper_id = t1.keeper_id WHERE t2.ticket = 'day'"
    )
    assert sql(repair_join_conditions(ticket, visitors)) == sql(ticket)


def test_a_joined_table_used_only_in_its_on_and_not_asked_about_is_dropped():
    question = "Which animals weigh the most?"
    tree = parse(
        "SELECT t1.name FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id ORDER BY t1.weight DESC"
    )
    assert sql(prune_unused_joins(tree, linked(question), question)) == (
        "SELECT t1.name FROM animal AS t1 ORDER BY t1.weight DESC"
    )


def test_a_from_table_used_only_to_join_gives_way_to_the_joined_table():
    # The heaviest animals' kinds: the keeper table only repeats the rows.
    question = "Which kinds do the heaviest animals belong to?"
    tree = parse(
        "SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "JOIN kind AS t3 ON t2.kind_code = t3.kind_code ORDER BY t2.weight DESC LIMIT 3"
    )
    assert sql(prune_unused_joins(tree, linked(question), question)) == (
        "SELECT t3.kind_description FROM animal AS t2 JOIN kind AS t3 ON t2.kind_code = t3.kind_code "
        "ORDER BY t2.weight DESC LIMIT 3"
    )
    # A count counts the joined rows: the first table may be what is counted.
    counted = parse(
        "SELECT t3.kind_description FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "JOIN kind AS t3 ON t2.kind_code = t3.kind_code GROUP BY t3.kind_description ORDER BY count(*) DESC"
    )
    assert sql(prune_unused_joins(counted, linked(question), question)) == sql(counted)

    # Named by the question, or read elsewhere in the query: it stays.
    named = "Which kinds do the heaviest animals that keepers look after belong to?"
    assert sql(prune_unused_joins(tree, linked(named), named)) == sql(tree)
    read = parse(
        "SELECT t2.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id WHERE t1.age > '30'"
    )
    assert sql(prune_unused_joins(read, linked(question), question)) == sql(read)


def test_a_join_whose_on_reads_only_itself_is_dropped_even_when_named():
    # keeper.keeper_id = keeper.age links the keepers to no animal: every animal times every such keeper.
    question = "Which animals do the keepers look after?"
    tree = parse("SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age")
    assert sql(prune_unused_joins(tree, linked(question), question)) == "SELECT t1.name FROM animal AS t1"
    # Each half of a set operation is judged on its own, though both call the keeper t2.
    both = parse(
        "SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age "
        "INTERSECT SELECT t1.name FROM animal AS t1 JOIN keeper AS t2 ON t2.keeper_id = t2.age"
    )
    assert sql(prune_unused_joins(both, linked(question), question)) == (
        "SELECT t1.name FROM animal AS t1 INTERSECT SELECT t1.name FROM animal AS t1"
    )


def test_a_joined_table_the_question_names_or_uses_is_kept():
    tree = parse("SELECT t1.name FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id")
    question = "Which animals have had a feeding?"
    assert sql(prune_unused_joins(tree, linked(question), question)) == sql(tree)
    used = parse(
        "SELECT t1.name, t2.food FROM animal AS t1 JOIN feeding AS t2 ON t1.animal_id = t2.animal_id"
    )
    assert sql(prune_unused_joins(used, linked("Which animals?"), "Which animals?")) == sql(used)


def test_text_numbers_are_cast_where_used_as_numbers():
    tree = parse(
        "SELECT avg(keeper.age) FROM keeper WHERE keeper.age > 30 AND keeper.name = 'Bo' "
        "AND keeper.age BETWEEN 1 AND 90 AND keeper.age = '40'"
    )
    repaired = sql(cast_text_numbers(tree, linked()))
    assert repaired == (
        "SELECT AVG(TRY_CAST(keeper.age AS DOUBLE)) FROM keeper WHERE TRY_CAST(keeper.age AS DOUBLE) > 30 "
        "AND keeper.name = 'Bo' AND TRY_CAST(keeper.age AS DOUBLE) BETWEEN 1 AND 90 AND keeper.age = '40'"
    )


def test_a_cast_of_stored_text_to_a_number_reads_bad_values_as_null():
    tree = parse("SELECT avg(CAST(t1.weight AS DOUBLE)) FROM animal AS t1")
    assert (
        sql(cast_text_numbers(tree, linked()))
        == "SELECT AVG(TRY_CAST(t1.weight AS DOUBLE)) FROM animal AS t1"
    )


def test_equality_with_a_many_row_subquery_becomes_membership():
    tree = parse(
        "SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = (SELECT k.keeper_id FROM keeper AS k WHERE k.age > 30)"
    )
    assert "WHERE t1.keeper_id IN (SELECT k.keeper_id FROM keeper AS k" in sql(single_row_comparisons(tree))


def test_equality_with_a_single_row_subquery_stays():
    for subquery in (
        "SELECT max(k.keeper_id) FROM keeper AS k",
        "SELECT k.keeper_id FROM keeper AS k LIMIT 1",
    ):
        tree = parse(f"SELECT t1.name FROM animal AS t1 WHERE t1.keeper_id = ({subquery})")
        assert sql(single_row_comparisons(tree)) == sql(tree)


def test_number_columns_are_not_cast():
    tree = parse("SELECT avg(animal.animal_id) FROM animal WHERE animal.keeper_id > 3")
    assert sql(cast_text_numbers(tree, linked())) == sql(tree)


def test_bare_selected_columns_keep_the_groups_the_query_names():
    tree = parse(
        "SELECT t1.keeper_id, t1.name, count(*) FROM keeper AS t1 JOIN animal AS t2 "
        "ON t1.keeper_id = t2.keeper_id GROUP BY t1.keeper_id ORDER BY t1.age DESC"
    )
    assert sql(any_value_of_ungrouped(tree)) == (
        "SELECT t1.keeper_id, ANY_VALUE(t1.name) AS name, COUNT(*) FROM keeper AS t1 JOIN animal AS t2 "
        "ON t1.keeper_id = t2.keeper_id GROUP BY t1.keeper_id ORDER BY ANY_VALUE(t1.age) DESC"
    )


def test_an_aggregate_in_where_becomes_a_having_grouped_by_the_shown_columns():
    tree = parse(
        "SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "WHERE t1.age > 30 AND count(t2.animal_id) > 2"
    )
    assert sql(aggregates_to_having(tree)) == (
        "SELECT t1.name FROM keeper AS t1 JOIN animal AS t2 ON t1.keeper_id = t2.keeper_id "
        "WHERE t1.age > 30 GROUP BY t1.name HAVING COUNT(t2.animal_id) > 2"
    )


def test_an_aggregate_inside_a_where_subquery_stays_there():
    tree = parse("SELECT t1.name FROM animal AS t1 WHERE t1.weight > (SELECT avg(weight) FROM animal)")
    assert sql(aggregates_to_having(tree)) == sql(tree)


def test_group_by_position_is_left_alone():
    tree = parse("SELECT t1.name, count(*) FROM keeper AS t1 GROUP BY 1")
    assert sql(any_value_of_ungrouped(tree)) == sql(tree)


def test_grouped_columns_are_shown_beside_the_aggregate():
    tree = parse("SELECT avg(animal.weight) FROM animal GROUP BY animal.kind_code")
    assert sql(show_group_columns(tree)) == (
        "SELECT AVG(animal.weight), animal.kind_code FROM animal GROUP BY animal.kind_code"
    )
    shown = parse("SELECT animal.kind_code, count(*) FROM animal GROUP BY animal.kind_code")
    assert sql(show_group_columns(shown)) == sql(shown)
    inner = parse(
        "SELECT keeper.name FROM keeper WHERE keeper.keeper_id IN (SELECT animal.keeper_id FROM animal GROUP BY animal.keeper_id, animal.kind_code)"
    )
    assert sql(show_group_columns(inner)) == sql(inner)


def test_text_compared_with_an_average_is_cast():
    tree = parse("SELECT count(*) FROM keeper WHERE keeper.age < (SELECT avg(keeper.age) FROM keeper)")
    assert sql(cast_text_numbers(tree, linked())) == (
        "SELECT COUNT(*) FROM keeper WHERE TRY_CAST(keeper.age AS DOUBLE) < "
        "(SELECT AVG(TRY_CAST(keeper.age AS DOUBLE)) FROM keeper)"
    )


def test_bare_columns_stay_on_their_table_when_a_join_is_added():
    tree = parse("SELECT keeper_id, name, kind_description FROM animal GROUP BY keeper_id")
    assert sql(add_missing_joins(tree, linked())) == (
        "SELECT animal.keeper_id, animal.name, kind.kind_description FROM animal "
        "INNER JOIN kind AS kind ON animal.kind_code = kind.kind_code GROUP BY animal.keeper_id"
    )


def test_bare_columns_of_a_subquery_are_not_joined_into_the_outer_query():
    tree = parse(
        "SELECT count(*) FROM animal WHERE keeper_id = (SELECT keeper_id FROM keeper ORDER BY age DESC LIMIT 1)"
    )
    assert sql(add_missing_joins(tree, linked())) == sql(tree)


def test_rows_a_join_repeats_are_listed_once():
    joined = parse("SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id")
    assert sql(distinct_joined_rows(joined)) == (
        "SELECT DISTINCT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id"
    )
    assert_untouched(
        distinct_joined_rows,
        "SELECT keeper.name FROM keeper",  # no join: duplicates are real rows
        "SELECT keeper.name, count(*) FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id GROUP BY keeper.name",
        "SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id LIMIT 3",
        "SELECT * FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id",
    )


def test_do_not_have_means_not_among_those_who_have():
    draft = parse(
        "SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id "
        "JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description <> 'lion'"
    )
    assert sql(negated_membership(draft, "Which keepers do not look after a lion?")) == (
        "SELECT keeper.name FROM keeper WHERE NOT keeper.keeper_id IN (SELECT animal.keeper_id FROM animal "
        "JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'lion')"
    )
    # Without a negation in the question, "<>" is what was asked.
    assert sql(negated_membership(draft, "Which keepers look after animals other than lions?")) == sql(draft)
    # A column of the joined table in the output keeps the join.
    shown = parse(
        "SELECT keeper.name, animal.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id "
        "WHERE animal.weight <> '10'"
    )
    assert sql(negated_membership(shown, "Which animals are not 10 kg?")) == sql(shown)


def test_has_one_but_not_another_keeps_the_join_for_the_one():
    # kind = 'tiger' AND kind <> 'lion' says no more than kind = 'tiger': the <> meant "has no lion".
    draft = parse(
        "SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id "
        "JOIN kind ON kind.kind_code = animal.kind_code "
        "WHERE kind.kind_description = 'tiger' AND kind.kind_description <> 'lion'"
    )
    assert sql(negated_membership(draft, "Which keepers look after a tiger but not a lion?")) == (
        "SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id "
        "JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'tiger' AND "
        "NOT keeper.keeper_id IN (SELECT animal.keeper_id FROM animal "
        "JOIN kind ON kind.kind_code = animal.kind_code WHERE kind.kind_description = 'lion')"
    )
    # An = on another column of the joined table is a filter of its own: the join stays as written.
    other = parse(
        "SELECT keeper.name FROM keeper JOIN animal ON animal.keeper_id = keeper.keeper_id "
        "WHERE animal.name = 'Rex' AND animal.weight <> '10'"
    )
    assert sql(negated_membership(other, "Which keepers of Rex are not 10 kg?")) == sql(other)


def test_a_column_spelled_with_other_case_and_separators_takes_the_stored_spelling():
    tree = parse("SELECT max(a.weight), KindCode FROM animal AS a GROUP BY kindCode")
    assert sql(respell_columns(tree, linked())) == (
        "SELECT MAX(a.weight), kind_code FROM animal AS a GROUP BY kind_code"
    )


def test_an_output_alias_is_not_respelled():
    tree = parse("SELECT count(*) AS KeeperId FROM animal AS a ORDER BY KeeperId")
    assert sql(respell_columns(tree, linked())) == sql(tree)


def test_membership_between_a_number_and_a_text_column_compares_text():
    tree = parse(
        "SELECT a.name FROM animal AS a WHERE NOT a.keeper_id IN (SELECT k.home_zone FROM keeper AS k)"
    )
    assert sql(align_membership_types(tree, linked())) == (
        "SELECT a.name FROM animal AS a WHERE NOT CAST(a.keeper_id AS TEXT) IN (SELECT k.home_zone FROM keeper AS k)"
    )
    same_types = parse(
        "SELECT a.name FROM animal AS a WHERE a.keeper_id IN (SELECT k.keeper_id FROM keeper AS k)"
    )
    assert sql(align_membership_types(same_types, linked())) == sql(same_types)


def test_a_set_operation_of_names_against_ids_becomes_key_membership():
    tree = parse(
        "SELECT k.name FROM keeper AS k EXCEPT SELECT a.keeper_id FROM animal AS a WHERE a.weight > 100"
    )
    assert sql(set_operation_keys(tree, linked())) == (
        "SELECT k.name FROM keeper AS k WHERE NOT k.keeper_id IN "
        "(SELECT a.keeper_id FROM animal AS a WHERE a.weight > 100)"
    )
    both = parse("SELECT k.name FROM keeper AS k INTERSECT SELECT a.keeper_id FROM animal AS a")
    assert "WHERE k.keeper_id IN (SELECT a.keeper_id" in sql(set_operation_keys(both, linked()))


def test_a_set_operation_of_like_columns_stays():
    tree = parse("SELECT k.keeper_id FROM keeper AS k EXCEPT SELECT a.keeper_id FROM animal AS a")
    assert sql(set_operation_keys(tree, linked())) == sql(tree)


def test_a_join_to_a_table_two_keys_away_goes_through_the_table_between():
    tree = parse(
        "SELECT k.name FROM keeper AS k JOIN feeding AS f ON k.keeper_id = f.keeper_id WHERE f.food = 'fish'"
    )
    assert sql(bridge_joins(tree, linked())) == (
        "SELECT k.name FROM keeper AS k JOIN animal AS animal ON k.keeper_id = animal.keeper_id "
        "JOIN feeding AS f ON animal.animal_id = f.animal_id WHERE f.food = 'fish'"
    )


def test_a_join_with_a_declared_key_is_left_to_the_other_repairs():
    tree = parse("SELECT k.name FROM keeper AS k JOIN animal AS a ON k.keeper_id = a.keeper_ref")
    assert sql(bridge_joins(tree, linked())) == sql(tree)


def _profiled(values: list[str]) -> dict:
    return {"distinct_count": len(values), "distinct_values": values}


PROFILED = SchemaView(
    "zones",
    "",
    [
        TableInfo("keeper", [ColumnInfo("name", "VARCHAR"), ColumnInfo("home_zone", "VARCHAR", profile=_profiled(["Z1", "Z2"]))]),
        TableInfo("zone", [ColumnInfo("zone_code", "VARCHAR", profile=_profiled(["Z1", "Z2"])),
                           ColumnInfo("zone_name", "VARCHAR", profile=_profiled(["North", "South"]))]),
    ],
    [Join("keeper", "home_zone", "zone", "zone_code")],
)  # fmt: skip


def test_a_value_stored_in_the_referenced_table_is_looked_up_there():
    tree = parse("SELECT k.name FROM keeper AS k WHERE k.home_zone = 'north'")
    assert sql(values_where_stored(tree, link_schema("q", PROFILED, None, []))) == (
        "SELECT k.name FROM keeper AS k WHERE k.home_zone IN "
        "(SELECT zone.zone_code FROM zone WHERE zone.zone_name = 'North')"
    )


def test_a_value_stored_in_another_case_takes_the_stored_spelling():
    tree = parse("SELECT k.name FROM keeper AS k WHERE k.home_zone = 'z2'")
    assert sql(values_where_stored(tree, link_schema("q", PROFILED, None, []))) == (
        "SELECT k.name FROM keeper AS k WHERE k.home_zone = 'Z2'"
    )


def test_a_compared_average_moves_to_having():
    tree = parse(
        "SELECT t1.kind_code, avg(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' AND t1.weight < 72 "
        "GROUP BY t1.kind_code"
    )
    question = "Show the average weight of each kind whose average weight is less than 72."
    assert sql(compared_aggregates_to_having(tree, question)) == (
        "SELECT t1.kind_code, AVG(t1.weight) FROM animal AS t1 WHERE t1.name <> 'Rex' "
        "GROUP BY t1.kind_code HAVING AVG(t1.weight) < 72"
    )
    # Rows compared, not the average: the WHERE stays.
    rows = "Show the average weight of animals lighter than 72 for each kind."
    assert sql(compared_aggregates_to_having(tree, rows)) == sql(tree)
    # No aggregate of that column shown, or no grouping: nothing to move.
    assert_untouched(
        lambda tree: compared_aggregates_to_having(tree, question),
        "SELECT t1.kind_code, avg(t1.animal_id) FROM animal AS t1 WHERE t1.weight < 72 GROUP BY t1.kind_code",
        "SELECT avg(t1.weight) FROM animal AS t1 WHERE t1.weight < 72",
    )


def test_a_comparison_no_row_can_meet_is_turned_round():
    # "heavier than the lightest": below the table's own minimum is no row at all.
    tree = parse("SELECT t1.name FROM animal AS t1 WHERE t1.weight < (SELECT min(weight) FROM animal)")
    assert sql(impossible_extremes(tree)) == (
        "SELECT t1.name FROM animal AS t1 WHERE t1.weight > (SELECT MIN(weight) FROM animal)"
    )
    written_round = parse("SELECT name FROM animal WHERE (SELECT max(weight) FROM animal) < weight")
    assert sql(impossible_extremes(written_round)) == (
        "SELECT name FROM animal WHERE (SELECT MAX(weight) FROM animal) > weight"
    )
    assert_untouched(
        impossible_extremes,
        "SELECT name FROM animal WHERE weight > (SELECT min(weight) FROM animal)",  # possible
        "SELECT name FROM animal WHERE weight < (SELECT min(weight) FROM animal WHERE kind_code = 'cat')",
        "SELECT name FROM keeper WHERE age < (SELECT min(weight) FROM animal)",  # another column
        "SELECT t1.name FROM keeper AS t1 WHERE t1.age < (SELECT min(age) FROM animal)",  # another table
    )
