"""The scorer decides every accuracy figure, so each rule of /work/shared/eval/README.md is pinned here."""

from decimal import Decimal

import duckdb
import pytest

from analytics_chat.engine.scoring import results_match, values_equal


def match(answer, gold, *, answer_cols=None, gold_cols=None, order=False):
    answer_cols = answer_cols or [f"a{i}" for i in range(len(answer[0]) if answer else 1)]
    gold_cols = gold_cols or [f"g{i}" for i in range(len(gold[0]) if gold else 1)]
    return results_match(answer, answer_cols, gold, gold_cols, order)


def test_identical_results_match():
    assert match([(1, "a"), (2, "b")], [(1, "a"), (2, "b")])


def test_rows_are_a_multiset_when_order_does_not_matter():
    assert match([(2, "b"), (1, "a")], [(1, "a"), (2, "b")])


def test_duplicates_count():
    assert not match([(1,), (1,), (2,)], [(1,), (2,), (2,)])
    assert not match([(1,), (1,)], [(1,)])


def test_order_is_checked_when_it_matters():
    assert match([(1,), (2,)], [(1,), (2,)], order=True)
    assert not match([(2,), (1,)], [(1,), (2,)], order=True)


def test_numbers_within_relative_tolerance():
    assert match([(1.0000001,)], [(1.0,)])
    assert match([(Decimal("2.5"),)], [(2.5,)])
    assert match([(3,)], [(3.0,)])
    assert not match([(1.00001,)], [(1.0,)])
    assert not match([(0.0,)], [(1e-9,)])


def test_tolerance_is_relative_for_large_numbers():
    assert match([(1_000_000_000.5,)], [(1_000_000_000.0,)])
    assert not match([(1_000_100_000.0,)], [(1_000_000_000.0,)])


def test_near_equal_values_that_sort_differently_still_match():
    answer = [(1.0000000001, "b"), (1.0, "a")]
    gold = [(1.0, "b"), (1.0000000001, "a")]
    assert match(answer, gold)


def test_strings_are_exact():
    assert not match([("france",)], [("France",)])
    assert not match([("1",)], [(1,)])


def test_none_and_nan():
    assert match([(None,), (1,)], [(1,), (None,)])
    assert not match([(None,)], [(0,)])
    assert values_equal(float("nan"), float("nan"))


def test_booleans_and_sqlite_integers():
    assert match([(True,), (False,)], [(1,), (0,)])
    assert not match([(True,)], [("true",)])


def test_extra_answer_columns_are_allowed():
    answer = [(10, "Joe", 32), (11, "Ann", 25)]
    assert match(answer, [("Ann",), ("Joe",)], answer_cols=["id", "name", "age"], gold_cols=["name"])
    assert match(answer, [("Joe", 32), ("Ann", 25)], order=True)


def test_extra_columns_must_keep_rows_together():
    # Each column alone matches, but the pairs are different rows.
    answer = [("Joe", 25, 1), ("Ann", 32, 2)]
    assert not match(answer, [("Joe", 32), ("Ann", 25)])


def test_gold_columns_may_appear_in_another_order():
    assert match([(32, "Joe")], [("Joe", 32)])


def test_missing_gold_column_fails():
    assert not match([("Joe",)], [("Joe", 32)])


def test_same_values_in_two_columns_pick_the_working_assignment():
    answer = [(1, 1, "x"), (2, 1, "y")]
    assert match(answer, [(1, "x"), (1, "y")])
    assert match(answer, [(1, "x"), (2, "y")])


def test_row_count_must_match():
    assert not match([(1,)], [(1,), (1,)])
    assert match([], [], answer_cols=["a"], gold_cols=["g"])


def test_order_with_extra_columns():
    answer = [(1, "b"), (2, "a")]
    assert match(answer, [("b",), ("a",)], order=True)
    assert not match(answer, [("a",), ("b",)], order=True)


def test_ragged_rows_are_a_clear_error():
    with pytest.raises(ValueError, match="answer rows"):
        results_match([(1, 2)], ["a"], [(1,)], ["g"], False)


def test_real_duckdb_results_of_equivalent_queries_match():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', 2.5), (2, 'b', 3.5), (3, 'a', 1.0)) v(id, k, x)"
    )
    gold = con.execute("SELECT k, avg(x) FROM t GROUP BY k")
    gold_rows, gold_cols = gold.fetchall(), [d[0] for d in gold.description]
    answer = con.execute(
        "SELECT count(*) AS n, k, sum(x) / count(x) AS mean FROM t GROUP BY k ORDER BY k DESC"
    )
    answer_rows, answer_cols = answer.fetchall(), [d[0] for d in answer.description]
    assert results_match(answer_rows, answer_cols, gold_rows, gold_cols, False)
    wrong = con.execute("SELECT k, max(x) FROM t GROUP BY k")
    assert not results_match(wrong.fetchall(), ["k", "m"], gold_rows, gold_cols, False)
