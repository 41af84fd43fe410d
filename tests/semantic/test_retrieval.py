"""Context retrieval: synonyms, ranking, budget and scope."""

from __future__ import annotations

import json

import pytest

from catalog.text import search_words
from semantic.models import SemanticStatement
from semantic.retrieval import retrieve_context


@pytest.mark.parametrize(
    "question", ["What were total sales last year?", "Show turnover by country", "revenue by month"]
)
def test_revenue_synonyms_rank_revenue_first(demo_source, question):
    context = retrieve_context(question, demo_source, token_budget=4000)
    assert context.metric_names[0] == "revenue"


def test_other_synonyms(demo_source):
    assert (
        retrieve_context("what is our AOV per segment", demo_source).metric_names[0] == "average_order_value"
    )
    assert retrieve_context("gross profit by category", demo_source).metric_names[0] == "gross_margin"
    dimensions = [r.item.name for r in retrieve_context("sales per salesperson", demo_source).dimensions]
    assert dimensions[0] == "rep_name"


def test_statements_always_included_and_matched(demo_source):
    context = retrieve_context("how many orders were cancelled?", demo_source)
    names = [r.item.name for r in context.statements]
    assert names[0] == "revenue_rule"  # always included, first
    assert "order_status_meanings" in names
    assert "margin_rule" not in names
    SemanticStatement.objects.filter(name="order_status_meanings").update(enabled=False)
    names = [r.item.name for r in retrieve_context("how many orders were cancelled?", demo_source).statements]
    assert "order_status_meanings" not in names


def test_global_statements_apply_to_every_source(demo_source):
    SemanticStatement.objects.create(
        name="fiscal_year", text="The fiscal year starts in April.", lookup_phrases=["fiscal year"]
    )
    names = [r.item.name for r in retrieve_context("revenue per fiscal year", demo_source).statements]
    assert "fiscal_year" in names


def test_json_shapes(demo_source):
    context = retrieve_context("revenue by country", demo_source, token_budget=4000)
    semantic = context.semantic_context_json()
    revenue = semantic["metrics"][0]
    assert revenue["name"] == "revenue"
    assert revenue["filter"] == "orders.status = 'completed'"
    assert {"label", "description", "expression"} <= set(revenue)
    assert semantic["dimensions"][0]["name"] == "country"
    catalog = context.catalog_json()
    customers = next(t for t in catalog["tables"] if t["name"] == "customers")
    assert customers["row_count"] == 2000 and customers["description"]
    key = next(c for c in customers["columns"] if c["name"] == "customer_id")
    assert key["pk"] is True and key["type"] == "INTEGER"
    orders = next(t for t in catalog["tables"] if t["name"] == "orders")
    columns = {c["name"]: c for c in orders["columns"]}
    assert columns["status"]["values"] == ["cancelled", "completed", "pending", "returned"]
    assert columns["order_date"]["range"] == ["2023-01-01", "2025-12-31"]
    assert {
        "from": "orders.customer_id",
        "to": "customers.customer_id",
        "cardinality": "many_to_one",
    } in catalog["relationships"]
    json.dumps(semantic), json.dumps(catalog)  # serialisable as is


def test_token_budget_is_respected(demo_source):
    small = retrieve_context("revenue by country", demo_source, token_budget=300)
    large = retrieve_context("revenue by country", demo_source, token_budget=5000)
    assert small.token_estimate <= 300
    assert (
        len(json.dumps(small.semantic_context_json())) + len(json.dumps(small.catalog_json())) < 4 * 300 + 400
    )
    assert len(large.metrics) > len(small.metrics)
    assert small.metric_names[0] == "revenue"  # the best match survives the cut


def test_scope_restriction_never_leaks_other_tables(demo_source):
    context = retrieve_context(
        "revenue and margin by country, rep and status",
        demo_source,
        tables=["orders", "customers"],
        token_budget=5000,
    )
    assert set(context.table_names) == {"orders", "customers"}
    semantic = json.dumps(context.semantic_context_json())
    structure = json.dumps([[t["name"], t["columns"][0]["name"]] for t in context.catalog_json()["tables"]])
    structure += json.dumps(context.catalog_json()["relationships"])
    for hidden in ("order_items", "products", "sales_reps", "unit_cost"):
        assert hidden not in semantic and hidden not in structure
    assert [r.item.name for r in context.statements] == ["order_status_meanings"]  # in-scope rules stay
    assert "order_count" in context.metric_names and "revenue" not in context.metric_names
    demo_source.tables.filter(name="customers").update(enabled=False)
    context = retrieve_context("customers by country", demo_source, token_budget=5000)
    assert "customers" not in context.table_names
    assert "customers" not in json.dumps(context.catalog_json()["relationships"])


def test_stemming():
    assert search_words("orders order shipped categories") == ["order", "order", "ship", "category"]
    assert search_words("Sales of the_products") == ["sale", "product"]


def test_default_budget_keeps_what_a_time_question_needs(demo_source):
    context = retrieve_context("How much did we earn from sales in 2023?", demo_source)
    assert context.token_estimate <= 800
    assert context.metric_names[0] == "revenue"
    assert context.dimensions[0].item.name == "order_date"
    assert {"orders", "order_items"} <= set(context.table_names)


def test_metric_candidates_are_named_by_a_word_that_names_something(demo_source):
    """A word of a metric's label widens the candidates; an aggregate word ("average") does not."""
    per_rep = retrieve_context("average revenue per sales rep", demo_source).metric_candidates
    assert "revenue" in per_rep
    assert "avg_days_to_ship" not in per_rep
    shipping = retrieve_context("how many days does it take to ship", demo_source).metric_candidates
    assert "avg_days_to_ship" in shipping
