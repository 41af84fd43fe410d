"""The semantic path with a scripted model: the schema the model fills, and what the wording settles."""

from __future__ import annotations

import json

import pytest

from analytics_chat.engine.semantic_path import (
    plan_semantic_query,
    query_schema,
    settled_filters,
    unmodelled_column,
    value_mentions,
    vocabulary,
)
from analytics_chat.engine.shape import question_shape
from analytics_chat.llm.base import CancelToken, GenerationOptions
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.pipeline.state import Turn
from semantic.compiler import SemanticModel


def scripted(*rules: tuple[str, dict]) -> ScriptedGenerator:
    return ScriptedGenerator.from_script(
        "scripted",
        {
            "rules": [{"match": match, "response": json.dumps(query)} for match, query in rules],
            "default": "not json",
            "token_delay_ms": 0,
        },
    )


def plan(question, source, generator, history=()):
    return plan_semantic_query(
        question, source, None, list(history), generator, GenerationOptions(), CancelToken()
    )


def test_schema_pins_what_the_wording_rules_out_or_settles(demo_source):
    vocab = vocabulary(demo_source)
    total = query_schema(vocab, question_shape("What was the total revenue?"))["properties"]
    assert total["dimensions"] == {"const": []}
    assert total["time_range"] == {"type": "null"} and total["order_by"] == {"const": []}
    dated = query_schema(vocab, question_shape("What were total sales in 2023?"))["properties"]
    assert dated["time_range"] == {"const": "2023"}
    ranked = query_schema(vocab, question_shape("Top 5 channels by revenue"))["properties"]
    assert ranked["limit"] == {"const": 5}
    assert ranked["order_by"]["items"]["properties"]["direction"] == {"enum": ["desc"]}
    assert "enum" in ranked["dimensions"]["items"]
    follow_up = query_schema(vocab, question_shape("only web"), follow_up=True)["properties"]
    assert "enum" in follow_up["dimensions"]["items"] and "anyOf" in follow_up["time_range"]


def test_named_values_become_filters_and_negation_is_kept(demo_source):
    vocab = vocabulary(demo_source)
    mentions = value_mentions("Revenue excluding web orders in Japan", vocab)
    assert sorted(settled_filters(mentions), key=lambda f: f["field"]) == [
        {"field": "channel", "op": "!=", "value": "web"},
        {"field": "country", "op": "=", "value": "Japan"},
    ]


def test_a_column_the_semantic_layer_leaves_out_sends_the_question_to_sql(demo_source):
    assert unmodelled_column("Which product has the highest list price?", SemanticModel(demo_source)) == (
        "products.list_price"
    )
    assert unmodelled_column("What are the sales per product category?", SemanticModel(demo_source)) is None


def test_named_period_becomes_an_inclusive_range(demo_source, duck):
    generator = scripted(("revenue", {"metrics": ["revenue"], "time_range": "2024-Q2"}))
    result = plan("What was the revenue in Q2 2024?", demo_source, generator)
    assert result.query["time_range"] == {"start": "2024-04-01", "end": "2024-06-30"}
    got = duck.execute(result.sql).fetchone()[0]
    want = duck.execute(
        "SELECT SUM(oi.quantity * oi.unit_price * (1 - oi.discount)) FROM orders o JOIN order_items oi "
        "ON oi.order_id = o.order_id WHERE o.status = 'completed' AND o.order_date BETWEEN '2024-04-01' AND '2024-06-30'"
    ).fetchone()[0]
    assert got == pytest.approx(want)


def test_a_superlative_gets_its_ranking_and_skips_empty_groups(demo_source, duck):
    # The model names the metric and the dimension but forgets order and limit.
    generator = scripted(("sales rep", {"metrics": ["revenue"], "dimensions": ["rep_name"]}))
    result = plan("Which sales rep sold the most?", demo_source, generator)
    assert result.query["limit"] == 1
    assert result.query["order_by"] == [{"field": "revenue", "direction": "desc"}]
    rows = duck.execute(result.sql).fetchall()
    assert len(rows) == 1 and rows[0][0] is not None  # web orders (no rep) have the most revenue


def test_a_filter_the_metric_already_applies_is_dropped(demo_source, duck):
    generator = scripted(
        (
            "fraction",
            {"metrics": ["return_rate"], "filters": [{"field": "status", "op": "=", "value": "returned"}]},
        )
    )
    result = plan("What fraction of orders ended up returned?", demo_source, generator)
    assert "filters" not in result.query or not result.query["filters"]
    rate = duck.execute(result.sql).fetchone()[0]
    assert 0 < rate < 1  # with the filter kept, every order in scope would be a returned one


def test_a_value_only_follow_up_refines_the_previous_query_without_the_model(demo_source):
    never = scripted()  # any model call would answer "not json" and fail the plan
    previous = {"metrics": ["revenue"], "dimensions": ["category"],
                "filters": [{"field": "country", "op": "=", "value": "France"}]}  # fmt: skip
    history = [Turn(ask="Revenue by category for France", semantic_query=previous)]
    result = plan("Just for Canada.", demo_source, never, history)
    assert result.query["dimensions"] == ["category"]
    assert result.query["filters"] == [{"field": "country", "op": "=", "value": "Canada"}]
    assert result.generation.completion_tokens == 0
    monthly = plan("and by month?", demo_source, never, history)
    assert monthly.query["time_grain"] == "month"


def test_a_time_series_reads_in_time_order(demo_source):
    generator = scripted(
        ("(?i)monthly", {"metrics": ["revenue"], "dimensions": ["order_date"], "time_grain": "month",
                     "order_by": [{"field": "revenue", "direction": "desc"}]})
    )  # fmt: skip
    result = plan("Monthly sales over 2024", demo_source, generator)
    assert not result.query.get("order_by")
    assert "ORDER BY order_date" in result.sql


def test_year_grain_gives_year_numbers(demo_source, duck):
    generator = scripted(("each year", {"metrics": ["customer_count"], "time_grain": "year"}))
    result = plan("How many customers joined each year?", demo_source, generator)
    years = [row[0] for row in duck.execute(result.sql).fetchall()]
    assert years == sorted(years) and all(isinstance(y, int) for y in years)
