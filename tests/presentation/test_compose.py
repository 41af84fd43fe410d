"""Response templates: placeholders per question type, and sentences whose numbers all come from the result."""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_chat.pipeline.state import CATALOG, DATA, DEFINITION, UNANSWERABLE, AnswerState, Scope
from analytics_chat.presentation import compose
from analytics_chat.presentation.compose import (
    CANNOT_ANSWER,
    UngroundedNumberError,
    assert_numbers_grounded,
    compose_response,
    format_value,
    grounded_sentences,
    numbers_in,
    present,
    summarize,
)
from analytics_chat.presentation.render import render_svg
from tests.presentation.results import result

PLACEHOLDER = re.compile(r"\{(data|sql|chart_spec|semantic_context|catalog)\}")


def answer(ask: str, intent: str = DATA, **fields: Any) -> AnswerState:
    state = AnswerState(
        message_uuid="m-1", ask=ask, scope=Scope("demo"), model_name="test", intent=intent, **fields
    )
    present(state)
    return state


MONTHLY = result(
    ["month", "revenue"],
    ["DATE", "DECIMAL(18,2)"],
    [["2025-01-01", 1200.5], ["2025-02-01", 1810.25], ["2025-03-01", 990.0]],
)
BY_CATEGORY = result(
    ["category", "revenue"], ["VARCHAR", "DOUBLE"], [["Phones", 300.0], ["Laptops", 950.75], ["Audio", 12.0]]
)


# --- numbers and grounding ---------------------------------------------------------------------------


def test_numbers_in_reads_separators_percents_signs_and_not_date_dashes():
    assert numbers_in("Revenue was 1,234.50 USD, down -3.5% since 2024-03-01 (12 rows).") == [
        1234.5,
        -3.5,
        2024,
        3,
        1,
        12,
    ]
    assert numbers_in("No figures here.") == []


def test_grounded_numbers_pass_at_the_precision_written():
    data = result(["share", "revenue"], ["DOUBLE", "DOUBLE"], [[0.1234, 192000.456]])
    assert_numbers_grounded("Share 12.3%, revenue 192,000.46, about 192,000.", data)
    assert_numbers_grounded("The result has 1 row.", data)


@pytest.mark.parametrize(
    "text", ["Revenue is 192,001.", "Share is 13%.", "There are 7 rows.", "Revenue 192,000.47."]
)
def test_invented_numbers_are_caught(text):
    data = result(["share", "revenue"], ["DOUBLE", "DOUBLE"], [[0.1234, 192000.456]])
    with pytest.raises(UngroundedNumberError, match="does not come from the result"):
        assert_numbers_grounded(text, data)


def test_a_sentence_that_fails_the_check_is_dropped_not_patched(monkeypatch):
    def summary_with_a_slip(data, semantic_context=None):
        return ["Revenue grew by 42%.", "The result has 3 rows."]

    monkeypatch.setattr(compose, "summarize", summary_with_a_slip)
    assert grounded_sentences(BY_CATEGORY) == "The result has 3 rows."


# --- sentences ---------------------------------------------------------------------------------------


def test_single_value_sentence_uses_the_metric_format(settings):
    settings.PRESENTATION_CURRENCY = "USD"
    data = result(["total_revenue"], ["DECIMAL(18,2)"], [[192000.0]])
    assert summarize(data) == ["The total revenue is 192,000.00 USD."]
    context = {"metrics": [{"name": "return_rate", "label": "Return rate", "format": "percent"}]}
    rate = result(["return_rate"], ["DOUBLE"], [[0.0734]])
    assert summarize(rate, context) == ["The return rate is 7.3%."]
    count = result(["orders"], ["BIGINT"], [[15230]])
    assert summarize(count) == ["The answer is 15,230 orders."]
    labelled = {"metrics": [{"name": "aov", "label": "average order value", "format": "currency"}]}
    assert summarize(result(["aov"], ["DOUBLE"], [[81.456]]), labelled) == [
        "The average order value is 81.46 USD."
    ]
    assert summarize(result(["total"], ["DOUBLE"], [[None]])) == ["The query returned no value for total."]


def test_ranking_names_the_top_and_bottom_item():
    text = grounded_sentences(BY_CATEGORY)
    assert (
        text
        == "Laptops has the highest revenue (950.75). The lowest is Audio (12.00). The result has 3 rows."
    )


def test_counts_read_as_most_and_fewest_and_ties_are_not_hidden():
    data = result(
        ["segment", "customers"], ["VARCHAR", "BIGINT"], [["Consumer", 40], ["Corporate", 40], ["SMB", 7]]
    )
    assert grounded_sentences(data) == (
        "Consumer ties for the most customers (40). The fewest is SMB (7). The result has 3 rows."
    )
    same = result(["segment", "customers"], ["VARCHAR", "BIGINT"], [["A", 5], ["B", 5]])
    assert grounded_sentences(same).startswith("Every row has the same customers: 5.")


def test_two_period_columns_read_in_calendar_order():
    data = result(
        ["quarter", "year", "orders"],
        ["BIGINT", "BIGINT", "BIGINT"],
        [[1, 2025, 30], [4, 2024, 12], [1, 2024, 31], [2, 2025, 28]],
    )
    assert grounded_sentences(data).startswith(
        "Orders from year 2024 quarter 1 to year 2025 quarter 2: highest 31 at year 2024 quarter 1, "
        "lowest 12 at year 2024 quarter 4."
    )


def test_series_names_its_range_and_extremes():
    text = grounded_sentences(MONTHLY)
    assert text.startswith(
        "Revenue from 2025-01 to 2025-03: highest 1,810.25 at 2025-02, lowest 990.00 at 2025-03."
    )


def test_period_numbers_are_named_not_formatted_as_amounts():
    data = result(["quarter", "orders"], ["INTEGER", "BIGINT"], [[1, 1500], [2, 2500], [3, 1000], [4, 1800]])
    assert "highest 2,500 at quarter 2" in grounded_sentences(data)


def test_truncated_results_say_so():
    data = result(["name"], ["VARCHAR"], [["a"], ["b"]], row_count=5000, truncated=True)
    assert grounded_sentences(data) == "Showing the first 2 rows of 5,000."


def test_empty_result():
    assert grounded_sentences(result(["a"], ["INTEGER"], [])) == "The query returned no rows."


def test_values_cannot_inject_placeholders():
    data = result(["name", "revenue"], ["VARCHAR", "DOUBLE"], [["{sql}", 5.0], ["{catalog}", 1.0]])
    state = answer("Which customer has the most revenue?", data=data)
    assert PLACEHOLDER.findall(state.response) == ["data"]


# --- placeholders per question type ------------------------------------------------------------------


def test_plain_question_gets_a_sentence_and_data():
    state = answer("What are the sales per product category?", data=BY_CATEGORY, sql="SELECT 1")
    assert PLACEHOLDER.findall(state.response) == ["data"]
    assert state.chart_spec is None


def test_chart_question_gets_a_chart_spec_that_renders():
    state = answer("Plot the monthly revenue of 2025 as a line chart.", data=MONTHLY, sql="SELECT 1")
    assert PLACEHOLDER.findall(state.response) == ["chart_spec", "data"]  # short result: the table too
    assert state.chart_spec["mark"]["type"] == "line"
    assert render_svg(state.chart_spec).startswith("<svg")


def test_chart_question_on_a_long_result_leaves_the_table_to_the_download():
    rows = [[f"2024-{m:02d}-{d:02d}", float(m * d)] for m in range(1, 13) for d in range(1, 4)]
    state = answer("Plot daily revenue", data=result(["day", "revenue"], ["DATE", "DOUBLE"], rows))
    assert PLACEHOLDER.findall(state.response) == ["chart_spec"]


def test_route_wants_with_data_do_not_force_a_long_table_under_a_chart():
    rows = [[f"2024-{m:02d}-{d:02d}", float(m * d)] for m in range(1, 13) for d in range(1, 4)]
    data = result(["day", "revenue"], ["DATE", "DOUBLE"], rows)
    state = AnswerState(
        "m", "Plot daily revenue", Scope("demo"), "t", intent=DATA, data=data, wants={"chart_spec", "data"}
    )
    present(state)
    assert PLACEHOLDER.findall(state.response) == ["chart_spec"]
    state = AnswerState(
        "m", "Plot daily revenue and show it as a table", Scope("demo"), "t", intent=DATA, data=data
    )
    present(state)
    assert PLACEHOLDER.findall(state.response) == ["chart_spec", "data"]


def test_chart_question_where_no_chart_helps_says_so_and_shows_data():
    state = answer("Chart the total revenue", data=result(["total"], ["DOUBLE"], [[10.0]]))
    assert state.chart_spec is None
    assert PLACEHOLDER.findall(state.response) == ["data"]
    assert "would not help" in state.response


def test_query_and_visualization_together():
    state = answer("Give me the query and a visualization of revenue by month", data=MONTHLY, sql="SELECT 1")
    assert PLACEHOLDER.findall(state.response)[:2] == ["sql", "chart_spec"]


def test_show_me_the_sql():
    state = answer("Show me the SQL for customers per country", data=BY_CATEGORY, sql="SELECT 1")
    assert PLACEHOLDER.findall(state.response) == ["sql", "data"]


def test_catalog_question():
    state = answer("Which tables and data can I query?", intent=CATALOG, catalog={"tables": []})
    assert PLACEHOLDER.findall(state.response) == ["catalog"]


def test_definition_question():
    context = {"metrics": [{"name": "revenue", "format": "currency"}]}
    state = answer("How is revenue computed?", intent=DEFINITION, semantic_context=context)
    assert PLACEHOLDER.findall(state.response) == ["semantic_context"]


def test_unanswerable_question():
    state = answer("What will the weather be tomorrow?", intent=UNANSWERABLE, catalog={"tables": []})
    assert state.response.startswith(CANNOT_ANSWER)
    assert PLACEHOLDER.findall(state.response) == ["catalog"]
    assert (
        compose_response(AnswerState("m", "Who won?", Scope("demo"), "t", intent=UNANSWERABLE))
        == CANNOT_ANSWER
    )


def test_wants_from_the_route_stage_take_precedence_over_the_question_words():
    state = AnswerState(
        "m", "revenue by month", Scope("demo"), "t", intent=DATA, data=MONTHLY, wants={"chart_spec"}
    )
    present(state)
    assert "{chart_spec}" in state.response


def test_format_value():
    assert format_value(1234567) == "1,234,567"
    assert format_value(0.125, "percent") == "12.5%"
    assert format_value(2.5) == "2.50"
    assert format_value(0.25) == "0.25"
    assert format_value(None) == "no value"
    assert format_value("{x}") == "(x)"


# --- property: every number in a sentence is in the result ---------------------------------------------

NAMES = [
    "revenue",
    "orders",
    "share",
    "return_rate",
    "quarter",
    "year",
    "customer_id",
    "name",
    "category",
    "month",
]
COLUMN_KINDS = {
    "BIGINT": st.integers(min_value=-(10**12), max_value=10**12),
    "INTEGER": st.integers(min_value=0, max_value=2030),
    "DOUBLE": st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    "DECIMAL(18,2)": st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(float),
    "VARCHAR": st.text(alphabet=string.ascii_letters + string.digits + " ,.-%{}", max_size=12),
    "DATE": st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31)).map(date.isoformat),
}


@st.composite
def results(draw: st.DrawFn) -> dict[str, Any]:
    width = draw(st.integers(min_value=1, max_value=5))
    names = draw(
        st.lists(
            st.sampled_from(NAMES) | st.text(string.ascii_lowercase + "_0123456789", min_size=1, max_size=8),
            min_size=width,
            max_size=width,
            unique=True,
        )
    )
    types = draw(st.lists(st.sampled_from(list(COLUMN_KINDS)), min_size=width, max_size=width))
    height = draw(st.integers(min_value=0, max_value=25))
    rows = [
        [draw(st.none() | COLUMN_KINDS[t]) if draw(st.booleans()) else draw(COLUMN_KINDS[t]) for t in types]
        for _ in range(height)
    ]
    truncated = draw(st.booleans())
    row_count = height + (draw(st.integers(min_value=0, max_value=10**6)) if truncated else 0)
    return {"columns": names, "types": types, "rows": rows, "row_count": row_count, "truncated": truncated}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=results(), currency=st.sampled_from(["", "USD"]))
def test_every_template_sentence_is_grounded_in_the_result(data, currency):
    from django.conf import settings as django_settings

    previous = django_settings.PRESENTATION_CURRENCY
    django_settings.PRESENTATION_CURRENCY = currency
    try:
        for sentence in summarize(data):
            assert_numbers_grounded(sentence, data)  # the templates never need the safety net
        state = AnswerState("m", "What does the data say?", Scope("demo"), "t", intent=DATA, data=data)
        present(state)
        assert_numbers_grounded(state.response, data)
        assert set(PLACEHOLDER.findall(state.response)) <= {"data"}
    finally:
        django_settings.PRESENTATION_CURRENCY = previous


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=results(),
    question=st.sampled_from(["Plot it", "Pie chart of the share", "Stacked area trend", "Scatter a vs b"]),
)
def test_any_chart_chosen_for_any_result_renders(data, question):
    state = AnswerState("m", question, Scope("demo"), "t", intent=DATA, data=data)
    present(state)
    if state.chart_spec is not None:
        assert "{chart_spec}" in state.response
        assert state.chart_spec["data"]["values"]
        assert render_svg(state.chart_spec).startswith("<svg")
