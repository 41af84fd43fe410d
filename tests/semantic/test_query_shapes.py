"""Shapes beyond metrics by dimensions (per-entity aggregates, shares, growth, column filters): the cases
of ``fixtures/query_shapes.yaml`` against hand-written SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from semantic.compiler import SemanticError, SemanticQuery, compile_to_sql
from tests.semantic.rows import assert_same_rows

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "query_shapes.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_query_equals_hand_written_sql(demo_source, duck, case):
    sql = compile_to_sql(demo_source, case["query"])
    expected = duck.execute(case["sql"]).fetchall()
    assert expected and expected[0][-1] is not None  # the hand-written SQL finds something to compare
    assert_same_rows(duck.execute(sql).fetchall(), expected, case.get("order_matters", False))


def test_aggregated_columns_are_named_by_aggregate_and_metric(demo_source, duck):
    sql = compile_to_sql(
        demo_source,
        {"metrics": ["revenue"], "dimensions": ["channel"], "per": "customers", "aggregate": ["p25", "p75"]},
    )
    assert [d[0] for d in duck.execute(sql).description] == ["channel", "p25_revenue", "p75_revenue"]


def test_a_limit_ranks_the_aggregated_groups(demo_source, duck):
    query = {
        "metrics": ["revenue"],
        "dimensions": ["country"],
        "per": "customers",
        "aggregate": ["avg"],
        "order_by": [{"field": "revenue", "direction": "desc"}],
        "limit": 2,
    }
    rows = duck.execute(compile_to_sql(demo_source, query)).fetchall()
    everything = duck.execute(compile_to_sql(demo_source, {**query, "limit": None})).fetchall()
    assert rows == everything[:2] and len(everything) > 2


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"metrics": ["revenue"], "per": "customers"}, "aggregate"),
        ({"metrics": ["revenue"], "aggregate": ["mode"]}, "mode"),
        ({"metrics": ["revenue"], "aggregate": "p100"}, "p100"),
        ({"metrics": ["revenue"], "per": 3, "aggregate": ["avg"]}, "per"),
    ],
)
def test_bad_per_entity_shapes_are_refused(data, named):
    with pytest.raises(SemanticError, match=named):
        SemanticQuery.from_dict(data)


def test_per_must_be_a_table_with_one_key(demo_source):
    with pytest.raises(SemanticError, match=r"one-column primary key; valid: .*customers"):
        compile_to_sql(demo_source, {"metrics": ["revenue"], "per": "planets", "aggregate": ["avg"]})


def test_an_aggregate_needs_a_metric(demo_source):
    with pytest.raises(SemanticError, match="needs a metric"):
        compile_to_sql(demo_source, {"dimensions": ["channel"], "aggregate": ["avg"]})


def test_a_filter_on_any_column_of_a_table_in_scope(demo_source, duck):
    query = {"metrics": ["revenue"], "filters": [{"field": "customers.customer_id", "op": "=", "value": 42}]}
    (got,) = duck.execute(compile_to_sql(demo_source, query)).fetchone()
    (want,) = duck.execute(
        "SELECT SUM(oi.quantity * oi.unit_price * (1 - oi.discount)) FROM orders o "
        "JOIN order_items oi ON oi.order_id = o.order_id WHERE o.status = 'completed' AND o.customer_id = 42"
    ).fetchone()
    assert got == want and want is not None
    with pytest.raises(SemanticError, match=r"customers\.shoe_size"):
        compile_to_sql(
            demo_source,
            {"metrics": ["revenue"], "filters": [{"field": "customers.shoe_size", "op": "=", "value": 1}]},
        )


def test_module_examples_run():
    import doctest

    from semantic import query

    assert doctest.testmod(query).failed == 0


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"metrics": ["revenue"], "share": True, "aggregate": ["avg"]}, "one of"),
        ({"metrics": ["revenue"], "percent": True, "per": "orders", "aggregate": ["avg"]}, "percent"),
        ({"metrics": ["revenue"], "growth": {"from": "2023"}}, "growth"),
        (
            {"metrics": ["revenue"], "growth": {"from": "2024", "to": "2023"}, "time_range": "2024"},
            "own periods",
        ),
        ({"metrics": ["revenue"], "share": "yes"}, "share"),
    ],
)
def test_bad_share_and_growth_shapes_are_refused(data, named):
    with pytest.raises(SemanticError, match=named):
        SemanticQuery.from_dict(data)


def test_growth_columns_name_the_periods(demo_source, duck):
    query = {"metrics": ["revenue"], "growth": {"from": "2023", "to": "2024"}, "percent": True}
    names = [d[0] for d in duck.execute(compile_to_sql(demo_source, query)).description]
    assert names == ["revenue_2023", "revenue_2024", "percent_growth_revenue"]
