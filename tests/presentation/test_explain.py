"""How an answer was computed, in words: from the semantic query (with the demo's own metric definitions)
and from the SQL's AST; keys the explainer does not know are listed, never fatal."""

from __future__ import annotations

import doctest

import pytest

from analytics_chat.llm.base import CancelToken
from analytics_chat.pipeline.stages import compose
from analytics_chat.pipeline.state import DATA, AnswerState, Scope, StageContext
from analytics_chat.presentation import explain as explain_module
from analytics_chat.presentation.explain import explain
from catalog.execution import run_query
from semantic.compiler import compile_to_sql


def state_for(sql: str, semantic_query: dict | None = None, source: str = "demo", data: dict | None = None):
    return AnswerState(
        message_uuid="m", ask="q", scope=Scope(source), model_name="", intent=DATA, sql=sql,
        semantic_query=semantic_query, data=data,
    )  # fmt: skip


def test_docstring_examples():
    assert doctest.testmod(explain_module).failed == 0


@pytest.mark.django_db
def test_a_semantic_answer_names_its_metric_definition_period_and_grouping(demo_source):
    query = {
        "metrics": ["revenue"],
        "dimensions": ["channel"],
        "time_range": {"start": "2024-01-01", "end": "2024-12-31"},
    }
    sql = compile_to_sql(demo_source, query)
    data = run_query(demo_source, sql).as_dict()
    explanation = explain(state_for(sql, query, data=data))

    assert explanation["summary"] == (
        "Revenue (net sales of completed orders after line discounts) in 2024, by sales channel"
    )
    assert explanation["metric"]["definition"] == "Net sales of completed orders after line discounts."
    assert explanation["metric"]["filter"] == "orders.status = 'completed'"
    assert explanation["period"] == "2024"
    assert explanation["grouping"] == ["Sales channel"]
    assert set(explanation["tables"]) == {"order_items", "orders"}
    # The table reads revenue as money and may total it (a sum); the channel is text.
    assert [(c["name"], c["format"], c["total"]) for c in explanation["columns"]] == [
        ("channel", "text", False),
        ("revenue", "currency", True),
    ]


@pytest.mark.django_db
def test_filters_grain_ranking_and_unknown_keys_in_words(demo_source):
    query = {
        "metrics": ["return_rate"],
        "dimensions": ["order_date"],
        "time_grain": "month",
        "filters": [{"field": "segment", "op": "in", "value": ["Corporate", "Consumer"]}],
        "time_range": {"start": "2025-04-01", "end": "2025-06-30"},
        "percentile": 90,  # a construct the explainer has never heard of
    }
    explanation = explain(state_for("SELECT 1", query))
    assert explanation["filters"] == ["customer segment is one of Corporate, Consumer"]
    assert explanation["grouping"] == ["month of order date"]
    assert explanation["period"] == "2025-Q2"
    assert explanation["notes"] == ["percentile: 90"]
    assert explanation["summary"].startswith(
        "Return rate (share of all orders that were returned) in 2025-Q2"
    )
    assert "percentile: 90" in explanation["summary"]
    assert explanation["metric"]["additive"] is False  # a ratio never totals


def test_the_sql_path_reads_the_ast():
    sql = (
        "SELECT c.country, AVG(o.amount) AS avg_amount, COUNT(*) AS orders FROM orders AS o "
        "JOIN customers AS c ON c.id = o.customer_id WHERE o.status <> 'cancelled' AND o.amount >= 10 "
        "AND c.segment IN ('A', 'B') AND o.note IS NULL GROUP BY c.country HAVING COUNT(*) > 5 "
        "ORDER BY avg_amount DESC LIMIT 3"
    )
    data = {"columns": ["country", "avg_amount", "orders"], "types": ["VARCHAR", "DOUBLE", "BIGINT"],
            "rows": [["FR", 12.5, 7], ["DE", 11.0, 9]], "row_count": 2, "truncated": False}  # fmt: skip
    explanation = explain(state_for(sql, data=data))
    assert explanation["path"] == "sql"
    assert explanation["tables"] == ["orders", "customers"]
    assert [m["label"] for m in explanation["metrics"]] == ["average amount", "number of rows of orders"]
    assert explanation["filters"] == [
        "status is not cancelled",
        "amount is at least 10",
        "segment is one of A, B",
        "note is empty",
        "groups where number of rows is above 5",
    ]
    assert explanation["grouping"] == ["country"]
    assert explanation["order"] == "highest avg_amount first"
    assert explanation["limit"] == 3
    assert [c["total"] for c in explanation["columns"]] == [False, False, True]  # only the count adds up


def test_dates_by_their_step_and_no_plan_without_sql():
    sql = "SELECT DATE_TRUNC('month', d) AS month, SUM(x) AS amount FROM t GROUP BY 1"
    data = {"columns": ["month", "amount"], "types": ["DATE", "DOUBLE"],
            "rows": [["2025-01-01", 1.0], ["2025-02-01", 2.0]], "row_count": 2, "truncated": False}  # fmt: skip
    explanation = explain(state_for(sql, data=data))
    assert explanation["grouping"] == ["month of d"]
    assert explanation["columns"][0]["format"] == "date"
    assert explanation["columns"][0]["unit"] == "utcyearmonth"
    assert explain(state_for("")) is None
    broken = explain(state_for("SELEC oops FROM"))
    assert broken["summary"] and broken["tables"] == []


def test_the_compose_stage_puts_it_into_response_data():
    data = {"columns": ["n"], "types": ["BIGINT"], "rows": [[4]], "row_count": 1, "truncated": False}
    state = state_for("SELECT COUNT(*) AS n FROM pets", data=data)
    compose(state, StageContext(generator=None, cancel=CancelToken()))
    assert state.response_data["explanation"]["summary"] == "Number of rows of pets"
    assert state.response_data["explanation"]["tables"] == ["pets"]


def test_new_query_shapes_are_described_by_their_columns(demo_source):
    from analytics_chat.presentation.explain import _from_semantic_query

    median = _from_semantic_query(
        {"metrics": ["revenue"], "dimensions": ["channel"], "per": "orders", "aggregate": ["median"]}, "demo"
    )
    assert [(m["name"], m["label"]) for m in median["metrics"]] == [
        ("median_revenue", "Median revenue per order")
    ]
    assert median["summary"].startswith("Median revenue per order")
    growth = _from_semantic_query({"metrics": ["revenue"], "growth": {"from": "2023", "to": "2024"}}, "demo")
    assert [m["name"] for m in growth["metrics"]] == ["revenue_2023", "revenue_2024", "growth_revenue"]
    share = _from_semantic_query({"metrics": ["order_count"], "share": True, "percent": True}, "demo")
    assert [m["name"] for m in share["metrics"]] == ["order_count", "percent_of_order_count"]
    without = _from_semantic_query(
        {"metrics": ["customer_count"], "without": "orders", "time_range": "2023"}, "demo"
    )
    assert without["summary"].startswith("Customers (") and "with no orders in 2023" in without["summary"]
