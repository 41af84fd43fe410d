"""Real DuckDB results (its own type names, TIMESTAMPs from date_trunc, DECIMALs, HUGEINTs) end to end."""

from __future__ import annotations

import csv
import io
from typing import Any

import duckdb
import pytest

from analytics_chat.pipeline.state import DATA, AnswerState, Scope
from analytics_chat.presentation.compose import assert_numbers_grounded, present
from analytics_chat.presentation.render import data_to_csv, render_png, render_svg
from catalog.execution import json_safe

ORDERS = """
CREATE TABLE orders AS
SELECT i::INTEGER AS order_id,
       DATE '2024-01-01' + (i * 3)::INTEGER AS order_date,
       ['web', 'mobile', 'store'][i % 3 + 1] AS channel,
       ['Laptops', 'Phones', 'Furniture', 'Audio'][i % 4 + 1] AS category,
       'Customer number ' || (i % 7)::VARCHAR AS customer_name,
       (i * 7 % 50 + 10.25)::DECIMAL(18, 2) AS amount,
       (i % 5) / 10.0 AS discount
FROM range(240) t(i)
"""


@pytest.fixture(scope="module")
def duck():
    connection = duckdb.connect()
    connection.execute(ORDERS)
    yield connection
    connection.close()


def run(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """A result in the pipeline's shape, converted the way the query engine does."""
    connection.execute(sql)
    rows = [[json_safe(value) for value in row] for row in connection.fetchall()]
    return {
        "columns": [d[0] for d in connection.description],
        "types": [str(d[1]) for d in connection.description],
        "rows": rows,
        "row_count": len(rows),
        "truncated": False,
    }


@pytest.mark.parametrize(
    ("question", "sql", "mark", "x_type"),
    [
        (
            "Show monthly revenue as a line chart",
            "SELECT date_trunc('month', order_date) AS month, sum(amount) AS revenue FROM orders GROUP BY 1 ORDER BY 1",
            "line",
            "temporal",
        ),
        (
            "Plot orders per quarter and year",
            "SELECT quarter(order_date) AS quarter, year(order_date) AS year, count(*) AS orders "
            "FROM orders GROUP BY ALL ORDER BY 2, 1",
            "line",
            "ordinal",
        ),
        (
            "Chart revenue by category",
            "SELECT category, sum(amount) AS revenue FROM orders GROUP BY 1",
            "bar",
            "nominal",
        ),
        (
            "Chart revenue by customer",
            "SELECT customer_name, sum(amount) AS revenue FROM orders GROUP BY 1",
            "bar",
            "nominal",
        ),
        (
            "Visualize orders by category and channel",
            "SELECT category, channel, count(*)::HUGEINT AS orders FROM orders GROUP BY ALL",
            "bar",
            "nominal",
        ),
        (
            "Pie chart of the share of revenue by channel",
            "SELECT channel, sum(amount) AS revenue FROM orders GROUP BY 1",
            "arc",
            None,
        ),
        (
            "Scatter plot of discount against amount",
            "SELECT discount, avg(amount) AS average_amount FROM orders GROUP BY 1",
            "point",
            "quantitative",
        ),
    ],
)
def test_duckdb_results_get_a_chart_that_renders_and_a_grounded_sentence(duck, question, sql, mark, x_type):
    data = run(duck, sql)
    state = AnswerState("m", question, Scope("demo"), "t", intent=DATA, data=data, sql=sql)
    present(state)
    assert state.chart_spec is not None and state.chart_spec["mark"]["type"] == mark
    if x_type:
        x = "y" if state.chart_spec["encoding"]["y"]["type"] != "quantitative" else "x"
        assert state.chart_spec["encoding"][x]["type"] == x_type
    assert render_svg(state.chart_spec).lstrip().startswith("<svg")
    assert "{chart_spec}" in state.response
    assert_numbers_grounded(state.response, data)


def test_monthly_timestamps_read_as_months_in_the_sentence(duck):
    data = run(
        duck, "SELECT date_trunc('month', order_date) AS month, sum(amount) AS revenue FROM orders GROUP BY 1"
    )
    assert data["types"][0] == "TIMESTAMP" and data["rows"][0][0].endswith("T00:00:00")
    state = AnswerState("m", "revenue trend", Scope("demo"), "t", intent=DATA, data=data)
    present(state)
    assert state.response.startswith("Revenue from 2024-01 to 2025-12:")
    assert state.chart_spec["encoding"]["x"]["timeUnit"] == "yearmonth"


def test_single_value_from_duckdb(duck, settings):
    settings.PRESENTATION_CURRENCY = "USD"
    data = run(duck, "SELECT sum(amount) AS total_revenue FROM orders WHERE year(order_date) = 2024")
    state = AnswerState("m", "What were total sales in 2024?", Scope("demo"), "t", intent=DATA, data=data)
    present(state)
    expected = f"{data['rows'][0][0]:,.2f}"
    assert state.response == f"The total revenue is {expected} USD.\n\n{{data}}"
    assert state.chart_spec is None


def test_csv_and_png_of_a_duckdb_result(duck):
    data = run(duck, "SELECT order_id, order_date, customer_name, amount FROM orders ORDER BY order_id")
    parsed = list(csv.reader(io.StringIO(data_to_csv(data))))
    assert parsed[0] == ["order_id", "order_date", "customer_name", "amount"]
    assert len(parsed) == 241 and parsed[1] == ["0", "2024-01-01", "Customer number 0", "10.25"]
    chart = AnswerState("m", "chart revenue by category", Scope("demo"), "t", intent=DATA)
    chart.data = run(duck, "SELECT category, sum(amount) AS revenue FROM orders GROUP BY 1")
    present(chart)
    assert render_png(chart.chart_spec, scale=2)[:4] == b"\x89PNG"
