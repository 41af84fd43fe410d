"""The semantic path with a scripted model: the schema the model fills, and what the wording settles
(``engine.settle``)."""

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
from analytics_chat.engine.settle import Absence, absence, id_filters, per_entity
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
    # every filter settled: the model writes them as one constant, so it cannot repeat one
    question = "Orders in Japan excluding web"
    schema = query_schema(vocab, question_shape(question), mentions=value_mentions(question, vocab),
                          free_text=False)["properties"]  # fmt: skip
    assert sorted(schema["filters"]["const"], key=lambda f: f["field"]) == [
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


@pytest.mark.parametrize(
    ("question", "aggregates", "per"),
    [
        ("Mean 2024 revenue per sales rep, split by region", ("avg",), "sales_reps"),
        ("On average, how much has each paying customer spent?", ("avg",), "customers"),
        ("What is the median revenue of an order?", ("median",), "orders"),
        ("The 10th and 90th percentiles of units sold per product", ("p10", "p90"), "products"),
        ("What is the 75th percentile of days to ship?", ("p75",), None),  # the metric's own rows
    ],
)
def test_an_aggregate_of_per_entity_totals_is_read_from_the_wording(demo_source, question, aggregates, per):
    entity = per_entity(question, question_shape(question), SemanticModel(demo_source))
    assert entity is not None and (entity.aggregates, entity.per) == (aggregates, per)


@pytest.mark.parametrize(
    "question",
    [
        "What is the average order value by customer segment?",  # a metric that averages already
        "Average discount per customer segment",  # "per customer segment" is a breakdown
        "Revenue per customer",  # no aggregate asked across customers
        "Mean shipping time for each rep region",
    ],
)
def test_a_breakdown_or_a_plain_average_is_no_per_entity_aggregate(demo_source, question):
    entity = per_entity(question, question_shape(question), SemanticModel(demo_source))
    assert entity is None


def test_a_median_between_two_named_entities_lets_the_model_pick(demo_source):
    question = "Among customers with a completed order, what is the median revenue?"
    entity = per_entity(question, question_shape(question), SemanticModel(demo_source))
    assert entity is not None and entity.per is None and entity.choices == ("customers", "orders")
    schema = query_schema(vocabulary(demo_source), question_shape(question), entity=entity)
    assert schema["properties"]["per"] == {"enum": ["customers", "orders"]} and "per" in schema["required"]


def test_the_plan_aggregates_per_entity_totals_the_wording_asks_for(demo_source, duck):
    generator = scripted(("sales rep", {"metrics": ["revenue"], "dimensions": ["region"]}))
    result = plan("Mean revenue per sales rep, split by region", demo_source, generator)
    assert (result.query["per"], result.query["aggregate"]) == ("sales_reps", ["avg"])
    got = dict(duck.execute(result.sql).fetchall())
    want = dict(
        duck.execute(
            "SELECT region, AVG(total) FROM (SELECT r.rep_id, r.region, "
            "SUM(oi.quantity * oi.unit_price * (1 - oi.discount)) AS total FROM orders o "
            "JOIN order_items oi ON oi.order_id = o.order_id JOIN sales_reps r ON r.rep_id = o.rep_id "
            "WHERE o.status = 'completed' GROUP BY 1, 2) GROUP BY 1"
        ).fetchall()
    )
    assert got.keys() == want.keys() and all(got[k] == pytest.approx(want[k]) for k in want)


def test_a_plain_average_of_an_averaging_metric_stays_that_metric(demo_source):
    generator = scripted(("order value", {"metrics": ["average_order_value"]}))
    result = plan("Average order value per customer, please", demo_source, generator)
    assert not result.query.get("aggregate") and not result.query.get("per")


def test_a_follow_up_keeps_the_per_entity_aggregate(demo_source):
    never = scripted()
    previous = {"metrics": ["revenue"], "dimensions": ["channel"], "per": "orders", "aggregate": ["median"],
                "time_range": "2025"}  # fmt: skip
    history = [Turn(ask="Median order revenue by channel in 2025", semantic_query=previous)]
    result = plan("what about 2023?", demo_source, never, history)
    assert (result.query["per"], result.query["aggregate"]) == ("orders", ["median"])
    assert result.query["time_range"]["start"] == "2023-01-01"


def test_a_per_entity_aggregate_offers_no_metric_that_counts_the_entity_itself(demo_source):
    question = "What is the median order value?"
    shape = question_shape(question)
    entity = per_entity(question, shape, SemanticModel(demo_source))
    metrics = query_schema(vocabulary(demo_source), shape, entity=entity)["properties"]["metrics"]["items"][
        "enum"
    ]
    assert entity.per == "orders" and "revenue" in metrics
    assert not {"order_count", "completed_orders", "returned_orders"} & set(metrics)


def test_groupings_by_the_entity_s_own_unnamed_attributes_are_dropped(demo_source):
    generator = scripted(("rep", {"metrics": ["revenue"], "dimensions": ["rep_name", "region"]}))
    result = plan("Mean revenue per sales rep, split by region", demo_source, generator)
    assert result.query["dimensions"] == ["region"]


def test_a_threshold_on_totals_the_model_leaves_out_is_settled(demo_source, duck):
    generator = scripted(("customers", {"metrics": ["revenue"], "dimensions": ["customer_name"]}))
    result = plan("List the customers who spent over 7,500 during 2024", demo_source, generator)
    assert {"field": "revenue", "op": ">", "value": 7500} in result.query["filters"]
    rows = duck.execute(result.sql).fetchall()
    assert rows and all(revenue > 7500 for _, revenue in rows)


def test_how_many_entities_pass_a_threshold_counts_them(demo_source, duck):
    generator = scripted(("customers", {"metrics": ["revenue"]}))
    result = plan("How many customers spent more than 5,000 in 2024?", demo_source, generator)
    assert (result.query["per"], result.query["aggregate"]) == ("customers", ["count"])
    (count,) = duck.execute(result.sql).fetchone()
    (want,) = duck.execute(
        "SELECT COUNT(*) FROM (SELECT o.customer_id FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
        "WHERE o.status = 'completed' AND year(o.order_date) = 2024 GROUP BY 1 "
        "HAVING SUM(oi.quantity * oi.unit_price * (1 - oi.discount)) > 5000)"
    ).fetchone()
    assert count == want > 0


def test_a_number_of_another_entity_is_no_threshold_on_the_metric(demo_source):
    generator = scripted(("customers", {"metrics": ["revenue"], "dimensions": ["customer_name"]}))
    result = plan("Which customers with more than 5 orders have the highest revenue?", demo_source, generator)
    assert not any(f["field"] == "revenue" for f in result.query.get("filters") or [])


def test_rows_named_by_their_key_become_key_filters(demo_source, duck):
    generator = scripted(("customer", {"metrics": ["revenue"]}))
    result = plan("How much has customer 42 spent with us overall?", demo_source, generator)
    assert {"field": "customers.customer_id", "op": "=", "value": 42} in result.query["filters"]
    assert duck.execute(result.sql).fetchone()[0] is not None
    model = SemanticModel(demo_source)
    assert id_filters("revenue on order #20420", model) == [
        {"field": "orders.order_id", "op": "=", "value": 20420}
    ]
    assert id_filters("orders 2024 by channel", model) == []


def test_a_share_of_the_total_the_wording_asks_for(demo_source, duck):
    generator = scripted(("Electronics", {"metrics": ["revenue"]}))
    result = plan("Which percentage of all our revenue do Electronics bring in?", demo_source, generator)
    assert result.query["share"] and result.query["percent"]
    assert {"field": "category", "op": "=", "value": "Electronics"} in result.query["filters"]
    _, percent = duck.execute(result.sql).fetchone()
    assert 0 < percent < 100


def test_a_rate_is_its_own_share(demo_source):
    generator = scripted(("returned", {"metrics": ["return_rate"]}))
    result = plan("Roughly what share of all orders came back returned?", demo_source, generator)
    assert not result.query.get("share")


def test_growth_between_two_years_the_wording_names(demo_source, duck):
    generator = scripted(("grow", {"metrics": ["revenue"], "time_range": "2023"}))
    result = plan("How many percent did revenue grow between 2023 and 2025?", demo_source, generator)
    assert result.query["growth"] == {"from": "2023", "to": "2025"} and result.query["percent"]
    assert "time_range" not in result.query or not result.query["time_range"]
    before, after, growth = duck.execute(result.sql).fetchone()
    assert float(growth) == pytest.approx(100 * (float(after) / float(before) - 1))


def test_a_time_dimension_the_question_does_not_name_gives_way_to_the_metric_s_own(demo_source):
    generator = scripted(
        ("signups", {"metrics": ["customer_count"], "dimensions": ["order_date"], "time_grain": "month"})
    )
    result = plan("Monthly signups of new customers during 2024", demo_source, generator)
    assert result.query["dimensions"] == ["signup_date"]
    shipped = scripted(
        ("ship", {"metrics": ["order_count"], "dimensions": ["ship_date"], "time_grain": "month"})
    )
    assert plan("Orders by ship month", demo_source, shipped).query["dimensions"] == ["ship_date"]


def test_a_share_offers_only_metrics_that_add_up_and_growth_no_time_breakdown(demo_source):
    question = "Which percentage of all our revenue do Electronics bring in?"
    schema = query_schema(vocabulary(demo_source), question_shape(question), question=question)
    metrics = schema["properties"]["metrics"]["items"]
    assert "revenue" in metrics["enum"] and "gross_margin_pct" not in metrics["enum"]
    generator = scripted(("grow", {"metrics": ["revenue"], "dimensions": ["order_date", "category"]}))
    result = plan("How did revenue grow per category from 2023 to 2024?", demo_source, generator)
    assert result.query["dimensions"] == ["category"] and result.query["growth"]["to"] == "2024"


def test_a_follow_up_keeps_a_growth(demo_source):
    previous = {"metrics": ["revenue"], "growth": {"from": "2023", "to": "2024"}, "percent": True}
    history = [Turn(ask="Revenue growth from 2023 to 2024 in %", semantic_query=previous)]
    generator = scripted(
        ("channel", {"metrics": ["revenue"], "dimensions": ["channel"], "time_range": "2024"})
    )
    result = plan("split that by sales channel and channel type", demo_source, generator, history)
    assert result.query["growth"] == previous["growth"] and result.query["dimensions"] == ["channel"]


def test_a_filter_the_metric_s_definition_excludes_sends_the_question_to_sql(demo_source):
    generator = scripted(
        (
            "cancelled",
            {"metrics": ["revenue"], "filters": [{"field": "status", "op": "=", "value": "cancelled"}]},
        )
    )
    assert plan("Total value of cancelled orders", demo_source, generator) is None


def test_a_ratio_of_two_metrics_in_the_order_the_question_names_them(demo_source, duck):
    generator = scripted(
        ("(?i)ratio", {"metrics": ["completed_orders", "cancelled_orders"], "time_grain": "year"})
    )
    result = plan("What was the ratio of cancelled to completed orders in each year?", demo_source, generator)
    assert result.query["ratio"] and result.query["metrics"] == ["cancelled_orders", "completed_orders"]
    rows = duck.execute(result.sql).fetchall()
    assert rows and all(
        ratio == pytest.approx(cancelled / completed) for _, cancelled, completed, ratio in rows
    )


def test_a_grouping_named_only_as_a_modifier_of_another_is_dropped(demo_source):
    generator = scripted(("region", {"metrics": ["avg_days_to_ship"], "dimensions": ["rep_name", "region"]}))
    result = plan("Mean shipping time for each rep region", demo_source, generator)
    assert result.query["dimensions"] == ["region"]
    both = plan("Average shipping time by rep and by region", demo_source, generator)
    assert both.query["dimensions"] == ["rep_name", "region"]


def test_a_noun_after_each_compared_value_is_no_grouping(demo_source):
    generator = scripted(("customers", {"metrics": ["revenue"], "dimensions": ["channel", "customer_name"]}))
    compared = plan("Revenue in 2024, web customers against mobile customers", demo_source, generator)
    assert compared.query["dimensions"] == ["channel"]
    assert {"field": "channel", "op": "in", "value": ["mobile", "web"]} in compared.query["filters"] or {
        "field": "channel", "op": "in", "value": ["web", "mobile"]} in compared.query["filters"]  # fmt: skip
    ranked = plan("Top 3 web customers by revenue, by channel", demo_source, generator)
    assert ranked.query["dimensions"] == ["channel", "customer_name"]


def test_a_share_of_a_metric_that_filters_its_own_rows_is_no_share(demo_source):
    question = "Roughly what share of all orders came back returned?"
    offered = query_schema(vocabulary(demo_source), question_shape(question), question=question)
    assert "return_rate" in offered["properties"]["metrics"]["items"]["enum"]
    generator = scripted(("returned", {"metrics": ["returned_orders"]}))
    assert not plan(question, demo_source, generator).query.get("share")


@pytest.mark.parametrize(
    ("question", "found"),
    [
        ("How many customers have never ordered anything?", Absence("customers", "orders")),
        ("Which sales reps had no orders during March 2024?", Absence("sales_reps", "orders")),
        ("products that not any customer in Peru has bought", Absence("products", "customers")),
        ("How many customers didn't order in 2023?", Absence("customers", "orders")),
        ("orders with no discount", None),  # no table after the negation
        ("How many customers are not in Germany?", None),
        ("Customers without a single order", Absence("customers", "orders")),
    ],
)
def test_rows_that_lack_related_rows_are_read_from_the_wording(demo_source, question, found):
    assert absence(question, SemanticModel(demo_source)) == found


def test_a_count_of_rows_without_related_rows_counts_those_rows(demo_source, duck):
    # the model counts the customers who did order; the wording asks for those who did not
    generator = scripted(("customers", {"metrics": ["active_customers"], "dimensions": ["order_date"]}))
    result = plan("How many customers have never ordered in 2023?", demo_source, generator)
    assert result.query["without"] == "orders" and result.query["metrics"] == ["customer_count"]
    assert not result.query.get("dimensions")
    (count,) = duck.execute(result.sql).fetchone()
    (want,) = duck.execute(
        "SELECT COUNT(*) FROM customers c WHERE c.customer_id NOT IN "
        "(SELECT customer_id FROM orders WHERE year(order_date) = 2023)"
    ).fetchone()
    assert count == want > 0


def test_a_follow_up_keeps_the_rows_without_related_rows(demo_source, duck):
    previous = {"metrics": ["customer_count"], "without": "orders", "time_range": "2023"}
    history = [Turn(ask="customers with no orders in 2023", semantic_query=previous)]
    generator = scripted(
        ("segment", {"metrics": ["customer_count"], "dimensions": ["segment"], "time_range": "2023"})
    )
    result = plan("split that by segment", demo_source, generator, history)
    assert result.query["without"] == "orders"
    rows = duck.execute(result.sql).fetchall()
    (total,) = duck.execute(plan("customers with no orders in 2023", demo_source, scripted(
        ("customers", previous))).sql).fetchone()  # fmt: skip
    assert sum(n for _, n in rows) == total > 0


@pytest.mark.parametrize(
    ("follow_up", "start"), [("break that down by channel", "2023-01-01"), ("and over all time?", None)]
)
def test_a_follow_up_keeps_the_period_unless_it_names_another(demo_source, follow_up, start):
    previous = {"metrics": ["order_count"], "time_range": "2023"}
    history = [Turn(ask="orders in 2023", semantic_query=previous)]
    generator = scripted(("", {"metrics": ["order_count"], "dimensions": ["channel"]}))
    result = plan(follow_up, demo_source, generator, history)
    assert (result.query.get("time_range") or {}).get("start") == start


def test_a_follow_up_never_takes_a_period_its_words_do_not_name(demo_source):
    previous = {"metrics": ["avg_days_to_ship"], "dimensions": ["region"]}
    history = [Turn(ask="shipping days by region", semantic_query=previous)]
    invented = {"metrics": ["avg_days_to_ship"], "dimensions": ["region"], "time_grain": "year",
                "time_range": {"start": "2021-01-01", "end": "2021-12-31"}}  # fmt: skip
    result = plan("split it by year as well", demo_source, scripted(("", invented)), history)
    assert not result.query.get("time_range") and result.query["time_grain"] == "year"


@pytest.mark.parametrize(
    ("follow_up", "kept"), [("now show it per month", True), ("and across all regions?", False)]
)
def test_a_follow_up_keeps_the_filters_it_neither_replaces_nor_names(demo_source, follow_up, kept):
    region = {"field": "region", "op": "=", "value": "Europe"}
    previous = {"metrics": ["order_count"], "filters": [region], "time_range": "2024"}
    history = [Turn(ask="orders of Europe reps in 2024", semantic_query=previous)]
    generator = scripted(("", {"metrics": ["order_count"], "time_grain": "month"}))
    result = plan(follow_up, demo_source, generator, history)
    assert (region in (result.query.get("filters") or [])) is kept


def test_a_count_of_the_rows_each_group_names_is_no_answer(demo_source):
    # one product per product name: a count of them is 1 for each, whatever was asked
    generator = scripted(("cancelled", {"metrics": ["product_count"], "dimensions": ["product_name"]}))
    assert plan("Which product appears on the most cancelled orders?", demo_source, generator) is None
    by_category = scripted(("category", {"metrics": ["product_count"], "dimensions": ["category"]}))
    assert plan("How many products are there in each category?", demo_source, by_category) is not None


def test_rows_picked_by_a_threshold_on_their_totals_are_listed(demo_source, duck):
    generator = scripted(("reps", {"metrics": ["revenue"]}))
    result = plan("Show me the sales reps whose 2024 revenue went over 150,000", demo_source, generator)
    assert result.query["dimensions"] == ["rep_name"]
    assert {"field": "revenue", "op": ">", "value": 150000} in result.query["filters"]
    rows = duck.execute(result.sql).fetchall()
    assert rows and all(revenue > 150000 for _, revenue in rows)
    counted = plan("How many sales reps had revenue over 150,000 in 2024?", demo_source, generator)
    assert not counted.query.get("dimensions")


def test_a_count_of_an_entity_by_groups_it_reaches_through_other_rows_counts_it_there(demo_source, duck):
    generator = scripted(("rep", {"metrics": ["customer_count"], "dimensions": ["rep_name"]}))
    result = plan("How many different customers did each rep sell to in 2023?", demo_source, generator)
    assert result.query["metrics"] == ["active_customers"]
    assert "order_date" in result.sql and "signup_date" not in result.sql  # 2023 is when they ordered
    by_segment = scripted(("segment", {"metrics": ["customer_count"], "dimensions": ["segment"]}))
    assert plan("number of customers per segment", demo_source, by_segment).query["metrics"] == [
        "customer_count"
    ]


def test_an_average_of_totals_per_entity_offers_metrics_that_add_up(demo_source):
    vocab, model = vocabulary(demo_source), SemanticModel(demo_source)

    def offered(question):
        shape = question_shape(question)
        entity = per_entity(question, shape, model)
        return query_schema(vocab, shape, entity=entity, question=question)["properties"]["metrics"]["items"][
            "enum"
        ]

    assert "average_order_value" not in offered("Average number of orders per sales rep, by region")
    assert "order_count" in offered("Average number of orders per sales rep, by region")
    assert "average_order_value" in offered("What is the average order value per customer?")
