"""The exact response text for representative results and answers, pinned before ``summarize`` was split.

Each case is one shape a summary or a response can take; the expected text is what the code wrote when the
pin was taken. A change that means to alter a sentence updates its case here.
"""

from __future__ import annotations

from typing import Any

import pytest

from analytics_chat.pipeline.state import CATALOG, DATA, DEFINITION, UNANSWERABLE, AnswerState, Scope, Turn
from analytics_chat.presentation.compose import present, summarize
from tests.presentation.results import result

RATE = {"metrics": [{"name": "return_rate", "label": "Return rate", "format": "percent"}]}
AOV = {"metrics": [{"name": "aov", "label": "AOV", "format": "currency"}]}
MONTHS = [f"2025-{m:02d}-01" for m in range(1, 7)]

# id, result, semantic context
SUMMARIES: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("empty", result(["a"], ["INTEGER"], []), None),
    ("one-missing-value", result(["total"], ["DOUBLE"], [[None]]), None),
    ("one-count", result(["orders"], ["BIGINT"], [[15230]]), None),
    ("one-amount", result(["total_revenue"], ["DECIMAL(18,2)"], [[192000.0]]), None),
    ("one-percent-label", result(["return_rate"], ["DOUBLE"], [[0.0734]]), RATE),
    ("one-upper-label", result(["aov"], ["DOUBLE"], [[81.456]]), AOV),
    ("one-camel-name", result(["TotalRevenue"], ["DOUBLE"], [[1234.5678]]), None),
    ("one-small-number", result(["avg_discount"], ["DOUBLE"], [[0.04567]]), None),
    ("one-text", result(["name"], ["VARCHAR"], [["{sql} Ann"]]), None),
    (
        "one-wide-row",
        result(
            ["customer_id", "year", "order_month", "segment", "revenue", "orders", "share"],
            ["INTEGER", "INTEGER", "DATE", "VARCHAR", "DOUBLE", "BIGINT", "DOUBLE"],
            [[17, 2024, "2024-03-01", "Corporate", 9876.5, 42, 0.25]],
        ),
        None,
    ),
    ("same-everywhere", result(["segment", "customers"], ["VARCHAR", "BIGINT"], [["A", 5], ["B", 5]]), None),
    (
        "monthly-series",
        result(
            ["month", "revenue"],
            ["DATE", "DECIMAL(18,2)"],
            [[m, 100.0 + i * 7.25] for i, m in enumerate(MONTHS)],
        ),
        None,
    ),
    (
        "midnight-timestamps",
        result(
            ["month", "orders"],
            ["TIMESTAMP", "BIGINT"],
            [[f"{m}T00:00:00", 10 + i] for i, m in enumerate(MONTHS)],
        ),
        None,
    ),
    (
        "real-timestamps",
        result(
            ["at", "sessions"],
            ["TIMESTAMP", "BIGINT"],
            [["2025-03-01T10:15:00", 5], ["2025-03-01T11:45:00", 9], ["2025-03-01T09:00:00", 2]],
        ),
        None,
    ),
    (
        "yearly-dates",
        result(
            ["year_start", "revenue"],
            ["DATE", "DOUBLE"],
            [["2022-01-01", 5.0], ["2023-01-01", 7.5], ["2024-01-01", 6.0]],
        ),
        None,
    ),
    (
        "two-periods",
        result(
            ["quarter", "year", "orders"],
            ["BIGINT", "BIGINT", "BIGINT"],
            [[1, 2025, 30], [4, 2024, 12], [1, 2024, 31], [2, 2025, 28]],
        ),
        None,
    ),
    (
        "series-with-a-category",
        result(
            ["month", "channel", "revenue"],
            ["DATE", "VARCHAR", "DOUBLE"],
            [
                [m, ch, float(i * 2 + j)]
                for i, m in enumerate(MONTHS[:3])
                for j, ch in enumerate(("web", "store"))
            ],
        ),
        None,
    ),
    (
        "series-without-dates",
        result(["day", "revenue"], ["DATE", "DOUBLE"], [[None, 1.0], [None, 2.0]]),
        None,
    ),
    (
        "ranking",
        result(
            ["category", "revenue"],
            ["VARCHAR", "DOUBLE"],
            [["Phones", 300.0], ["Laptops", 950.75], ["Audio", 12.0]],
        ),
        None,
    ),
    (
        "ranking-counts-with-ties",
        result(
            ["segment", "customers"], ["VARCHAR", "BIGINT"], [["Consumer", 40], ["Corporate", 40], ["SMB", 7]]
        ),
        None,
    ),
    (
        "ranking-names-over-ids",
        result(
            ["customer_id", "name", "region", "revenue"],
            ["INTEGER", "VARCHAR", "VARCHAR", "DECIMAL(18,2)"],
            [[1, "Ann", "Europe", 10.5], [2, "Bo", "Asia", 99.0], [3, "Cy", "Europe", 3.25]],
        ),
        None,
    ),
    (
        "ranking-ids-only",
        result(["rep_id", "orders"], ["INTEGER", "BIGINT"], [[1001, 5], [1002, 9], [1003, 1]]),
        None,
    ),
    (
        "ranking-percent",
        result(["channel", "share"], ["VARCHAR", "DOUBLE"], [["web", 0.5], ["store", 0.3], ["phone", 0.2]]),
        None,
    ),
    (
        "ranking-braces",
        result(["name", "revenue"], ["VARCHAR", "DOUBLE"], [["{sql}", 5.0], ["{catalog}", 1.0]]),
        None,
    ),
    (
        "ranges-of-two-measures",
        result(
            ["discount", "margin", "units"],
            ["DOUBLE", "DOUBLE", "BIGINT"],
            [[0.1, 0.5, 3], [0.3, 0.2, 9], [0.05, 0.45, 1]],
        ),
        None,
    ),
    (
        "first-measure-empty",
        result(["a", "b", "label"], ["DOUBLE", "DOUBLE", "VARCHAR"], [[None, 2.0, "x"], [None, 3.5, "y"]]),
        None,
    ),
    (
        "no-measure",
        result(["name", "region"], ["VARCHAR", "VARCHAR"], [["Ann", "Europe"], ["Bo", "Asia"]]),
        None,
    ),
    (
        "truncated-with-total",
        result(
            ["category", "revenue"],
            ["VARCHAR", "DOUBLE"],
            [["a", 1.0], ["b", 2.0]],
            row_count=5000,
            truncated=True,
        ),
        None,
    ),
    (
        "truncated-at-the-cap",
        result(
            ["month", "revenue"],
            ["DATE", "DOUBLE"],
            [[m, 1.0 + i] for i, m in enumerate(MONTHS)],
            truncated=True,
        ),
        None,
    ),
    (
        "truncated-same",
        result(
            ["segment", "customers"],
            ["VARCHAR", "BIGINT"],
            [["A", 5], ["B", 5]],
            row_count=None,
            truncated=True,
        ),
        None,
    ),
    (
        "metric-label-in-context",
        result(["channel", "return_rate"], ["VARCHAR", "DOUBLE"], [["web", 0.125], ["store", 0.0625]]),
        RATE,
    ),
]


EXPECTED_SUMMARIES = {
    "empty": ["The query returned no rows."],
    "one-missing-value": ["The query returned no value for total."],
    "one-count": ["The answer is 15,230 orders."],
    "one-amount": ["The total revenue is 192,000.00 USD."],
    "one-percent-label": ["The return rate is 7.3%."],
    "one-upper-label": ["The AOV is 81.46 USD."],
    "one-camel-name": ["The TotalRevenue is 1,234.57 USD."],
    "one-small-number": ["The avg discount is 0.0457."],
    "one-text": ["The name is (sql) Ann."],
    "one-wide-row": [
        "The result has one row: customer id 17, year year 2024, order month 2024-03, segment Corporate, revenue 9,876.50 USD, orders 42."
    ],
    "same-everywhere": ["Every row has the same customers: 5.", "The result has 2 rows."],
    "monthly-series": [
        "Revenue from 2025-01 to 2025-06: highest 136.25 USD at 2025-06, lowest 100.00 USD at 2025-01.",
        "The result has 6 rows.",
    ],
    "midnight-timestamps": [
        "Orders from 2025-01 to 2025-06: highest 15 at 2025-06, lowest 10 at 2025-01.",
        "The result has 6 rows.",
    ],
    "real-timestamps": [
        "Sessions from 2025-03-01T09:00:00 to 2025-03-01T11:45:00: highest 9 at 2025-03-01T11:45:00, lowest 2 at 2025-03-01T09:00:00.",
        "The result has 3 rows.",
    ],
    "yearly-dates": [
        "Revenue from 2022 to 2024: highest 7.50 USD at 2023, lowest 5.00 USD at 2022.",
        "The result has 3 rows.",
    ],
    "two-periods": [
        "Orders from year 2024 quarter 1 to year 2025 quarter 2: highest 31 at year 2024 quarter 1, lowest 12 at year 2024 quarter 4.",
        "The result has 4 rows.",
    ],
    "series-with-a-category": [
        "Revenue from 2025-01 to 2025-03: highest 5.00 USD at 2025-03, lowest 0.00 USD at 2025-01.",
        "The result has 6 rows.",
    ],
    "series-without-dates": ["The result has 2 rows."],
    "ranking": [
        "Laptops has the highest revenue (950.75 USD).",
        "The lowest is Audio (12.00 USD).",
        "The result has 3 rows.",
    ],
    "ranking-counts-with-ties": [
        "Consumer ties for the most customers (40).",
        "The fewest is SMB (7).",
        "The result has 3 rows.",
    ],
    "ranking-names-over-ids": [
        "Bo / Asia has the highest revenue (99.00 USD).",
        "The lowest is Cy / Europe (3.25 USD).",
        "The result has 3 rows.",
    ],
    "ranking-ids-only": [
        "1002 has the most orders (9).",
        "The fewest is 1003 (1).",
        "The result has 3 rows.",
    ],
    "ranking-percent": [
        "web has the highest share (50.0%).",
        "The lowest is phone (20.0%).",
        "The result has 3 rows.",
    ],
    "ranking-braces": [
        "(sql) has the highest revenue (5.00 USD).",
        "The lowest is (catalog) (1.00 USD).",
        "The result has 2 rows.",
    ],
    "ranges-of-two-measures": [
        "The discount ranges from 0.05 to 0.3 and the margin ranges from 0.2 to 0.5.",
        "The result has 3 rows.",
    ],
    "first-measure-empty": ["y has the highest b (3.50).", "The lowest is x (2).", "The result has 2 rows."],
    "no-measure": ["The result has 2 rows."],
    "truncated-with-total": [
        "b has the highest revenue (2.00 USD) among the rows shown.",
        "The lowest is a (1.00 USD).",
        "Showing the first 2 rows of 5,000.",
    ],
    "truncated-at-the-cap": [
        "Revenue from 2025-01 to 2025-06: highest 6.00 USD at 2025-06, lowest 1.00 USD at 2025-01 among the rows shown.",
        "Showing the first 6 rows; the result was cut there.",
    ],
    "truncated-same": [
        "Every row has the same customers: 5 among the rows shown.",
        "Showing the first 2 rows; the result was cut there.",
    ],
    "metric-label-in-context": [
        "web has the highest return rate (12.5%).",
        "The lowest is store (6.2%).",
        "The result has 2 rows.",
    ],
}


@pytest.mark.parametrize(("data", "context"), [c[1:] for c in SUMMARIES], ids=[c[0] for c in SUMMARIES])
def test_summary_sentences(request, settings, data, context):
    settings.PRESENTATION_CURRENCY = "USD"
    assert summarize(data, context) == EXPECTED_SUMMARIES[request.node.callspec.id]


MONTHLY = result(["month", "revenue"], ["DATE", "DOUBLE"], [[m, 10.0 + i] for i, m in enumerate(MONTHS)])
BY_CHANNEL = result(
    ["channel", "orders"], ["VARCHAR", "BIGINT"], [["web", 120], ["store", 80], ["phone", 40]]
)
DAILY = result(
    ["day", "revenue"],
    ["DATE", "DOUBLE"],
    [[f"2024-{m:02d}-{d:02d}", float(m * d)] for m in range(1, 13) for d in (1, 2)],
)
DEFINED = {"metrics": [{"name": "revenue", "label": "Revenue", "format": "currency", "expression": "sum(x)"}]}
FOLLOW_UP = [Turn(ask="How many orders per channel?", sql="SELECT channel, count(*) FROM orders GROUP BY 1")]

# id, question, intent, state fields
ANSWERS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "number",
        "How many orders?",
        DATA,
        {"data": result(["orders"], ["BIGINT"], [[15230]]), "sql": "SELECT 1"},
    ),
    ("table", "Orders per channel as a table", DATA, {"data": BY_CHANNEL, "sql": "SELECT 1"}),
    ("with-sql", "Show me the SQL for orders per channel", DATA, {"data": BY_CHANNEL, "sql": "SELECT 1"}),
    ("chart", "Plot the monthly revenue as a line chart", DATA, {"data": MONTHLY, "sql": "SELECT 1"}),
    ("chart-long", "Plot daily revenue", DATA, {"data": DAILY}),
    ("chart-long-table", "Plot daily revenue and show it as a table", DATA, {"data": DAILY}),
    ("chart-no-help", "Chart the total revenue", DATA, {"data": result(["total"], ["DOUBLE"], [[10.0]])}),
    (
        "chart-empty",
        "Chart revenue by month",
        DATA,
        {"data": result(["month", "revenue"], ["DATE", "DOUBLE"], [])},
    ),
    (
        "sql-and-chart-and-context",
        "Give me the query and a visualization of revenue by month, and how is revenue defined?",
        DATA,
        {"data": MONTHLY, "sql": "SELECT 1", "semantic_context": DEFINED},
    ),
    ("route-wants", "revenue by month", DATA, {"data": MONTHLY, "wants": {"chart_spec"}}),
    ("no-result", "How many orders?", DATA, {"data": None}),
    ("no-rows", "How many orders?", DATA, {"data": result(["orders"], ["BIGINT"], [])}),
    (
        "follow-up",
        "Split that by channel",
        DATA,
        {"data": BY_CHANNEL, "sql": "SELECT 2", "history": FOLLOW_UP, "is_new": False},
    ),
    (
        "refusal",
        "What will the weather be tomorrow?",
        UNANSWERABLE,
        {"refusal": "The data has no weather.", "catalog": {"tables": []}},
    ),
    ("refusal-bare", "Who won?", UNANSWERABLE, {}),
    ("catalog", "Which tables and data can I query?", CATALOG, {"catalog": {"tables": []}}),
    ("catalog-empty", "Which tables can I query?", CATALOG, {}),
    (
        "definition",
        "How is revenue computed? Show the SQL",
        DEFINITION,
        {"semantic_context": DEFINED, "sql": "SELECT 3"},
    ),
    ("definition-missing", "What does churn mean?", DEFINITION, {}),
]


EXPECTED_RESPONSES = {
    "number": ("The answer is 15,230 orders.\n\n{data}", None),
    "table": (
        "web has the most orders (120). The fewest is phone (40). The result has 3 rows.\n\n{data}",
        None,
    ),
    "with-sql": (
        "web has the most orders (120). The fewest is phone (40). The result has 3 rows.\n\nHere is the query.\n\n{sql}\n\n{data}",
        None,
    ),
    "chart": (
        "Revenue from 2025-01 to 2025-06: highest 15.00 at 2025-06, lowest 10.00 at 2025-01. The result has 6 rows.\n\nHere is the chart.\n\n{chart_spec}\n\n{data}",
        "line",
    ),
    "chart-long": (
        "Revenue from 2024-01-01 to 2024-12-02: highest 24.00 at 2024-12-02, lowest 1.00 at 2024-01-01. The result has 24 rows.\n\nHere is the chart.\n\n{chart_spec}",
        "line",
    ),
    "chart-long-table": (
        "Revenue from 2024-01-01 to 2024-12-02: highest 24.00 at 2024-12-02, lowest 1.00 at 2024-01-01. The result has 24 rows.\n\nHere is the chart.\n\n{chart_spec}\n\n{data}",
        "line",
    ),
    "chart-no-help": (
        "The total is 10.\n\nA chart would not help with this result, so here is the table.\n\n{data}",
        None,
    ),
    "chart-empty": ("The query returned no rows.", None),
    "sql-and-chart-and-context": (
        "Revenue from 2025-01 to 2025-06: highest 15.00 at 2025-06, lowest 10.00 at 2025-01. The result has 6 rows.\n\nHere is the query.\n\n{sql}\n\nHere is the chart.\n\n{chart_spec}\n\n{data}\n\n{semantic_context}",
        "line",
    ),
    "route-wants": (
        "Revenue from 2025-01 to 2025-06: highest 15.00 at 2025-06, lowest 10.00 at 2025-01. The result has 6 rows.\n\nHere is the chart.\n\n{chart_spec}\n\n{data}",
        "line",
    ),
    "no-result": ("I could not get a result for that question.", None),
    "no-rows": ("The query returned no rows.", None),
    "follow-up": (
        "web has the most orders (120). The fewest is phone (40). The result has 3 rows.\n\n{data}",
        None,
    ),
    "refusal": (
        "I cannot answer that from this data. The data has no weather.\n\nHere is the data I can answer questions about.\n\n{catalog}",
        None,
    ),
    "refusal-bare": ("I cannot answer that from this data.", None),
    "catalog": ("Here are the tables and data you can ask about.\n\n{catalog}", None),
    "catalog-empty": ("There is no data I can answer questions about in this scope yet.", None),
    "definition": (
        "Here is how it is defined in the semantic layer.\n\n{semantic_context}\n\nThis is the query it is calculated with.\n\n{sql}",
        None,
    ),
    "definition-missing": ("There is no definition for that in the semantic layer.", None),
}


@pytest.mark.parametrize(("ask", "intent", "fields"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS])
def test_response_text(request, settings, ask, intent, fields):
    settings.PRESENTATION_CURRENCY = ""
    state = AnswerState("m-1", ask, Scope("demo"), "test", intent=intent, **fields)
    present(state)
    expected_response, expected_chart = EXPECTED_RESPONSES[request.node.callspec.id]
    assert state.response == expected_response
    assert (state.chart_spec["mark"]["type"] if state.chart_spec else None) == expected_chart
