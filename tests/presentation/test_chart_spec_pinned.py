"""The exact Vega-Lite spec ``build_chart_spec`` writes for each kind of chart, pinned in a JSON file.

The specs in ``pinned/chart_specs.json`` are what the code wrote when the pin was taken (before the
function was split). A change that means to alter a spec writes the file again with
``AC_UPDATE_PINNED=1 pytest tests/presentation/test_chart_spec_pinned.py`` and shows the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics_chat.presentation.charts import ChartChoice, build_chart_spec, choose_chart
from tests.pinned import assert_pinned
from tests.presentation.results import result

PINNED = Path(__file__).parent / "pinned" / "chart_specs.json"


MONTHS = [f"2025-{m:02d}-01" for m in range(1, 7)]
CATEGORIES = ["Laptops", "Phones", "Furniture", "Office", "Audio"]
LONG_NAMES = [
    "Ergonomic Office Chair Deluxe",
    "Noise Cancelling Headphones",
    "Standing Desk Pro",
    "USB-C Hub",
]
MONTHLY = result(
    ["month", "revenue"], ["DATE", "DECIMAL(18,2)"], [[m, 100.0 + i * 7.5] for i, m in enumerate(MONTHS)]
)
BY_CHANNEL_MONTH = result(
    ["month", "channel", "orders"],
    ["DATE", "VARCHAR", "BIGINT"],
    [[m, ch, 10 + i + j] for i, m in enumerate(MONTHS[:3]) for j, ch in enumerate(("web", "store"))],
)
BY_CATEGORY_CHANNEL = result(
    ["category", "channel", "revenue"],
    ["VARCHAR", "VARCHAR", "DOUBLE"],
    [
        [c, ch, float(i * 3 + j + 1)]
        for i, c in enumerate(CATEGORIES)
        for j, ch in enumerate(("web", "mobile"))
    ],
)
LONG_BY_CHANNEL = result(
    ["product_name", "channel", "units"],
    ["VARCHAR", "VARCHAR", "BIGINT"],
    [[n, ch, 3 + i + j] for i, n in enumerate(LONG_NAMES) for j, ch in enumerate(("web", "store"))],
)
SCATTER = result(
    ["discount", "margin", "segment"],
    ["DOUBLE", "DOUBLE", "VARCHAR"],
    [[i / 20, 0.5 - i / 40, ("A", "B")[i % 2]] for i in range(6)],
)

# id, question (None: ``choice`` as given), result, choice or hint, build keyword arguments
CASES: list[tuple[str, str | None, dict[str, Any], Any, dict[str, Any]]] = [
    ("line-monthly", "Show monthly revenue as a chart", MONTHLY, None, {"title": "Revenue by month"}),
    ("area", "Plot revenue over time as an area chart", MONTHLY, None, {}),
    ("line-series", "Plot orders per month by channel", BY_CHANNEL_MONTH, None, {"title": "Orders"}),
    ("area-stacked-series", "Stacked area of orders per month by channel", BY_CHANNEL_MONTH, None, {}),
    ("bar-over-time-series", "Bar chart of orders per month by channel", BY_CHANNEL_MONTH, None, {}),
    (
        "line-timestamps",
        "Plot hourly sessions",
        result(
            ["hour_start", "sessions"],
            ["TIMESTAMP", "BIGINT"],
            [[f"2025-03-01T{h:02d}:00:00", 5 + h] for h in range(4)],
        ),
        None,
        {},
    ),
    (
        "line-periods",
        "Chart revenue per quarter",
        result(["quarter", "revenue"], ["INTEGER", "DOUBLE"], [[q, 1000.0 * q] for q in range(1, 5)]),
        None,
        {},
    ),
    (
        "bar-categories",
        "Visualize revenue by category",
        result(
            ["category", "revenue"],
            ["VARCHAR", "DOUBLE"],
            [[c, 50.0 * (i + 1)] for i, c in enumerate(CATEGORIES)],
        ),
        None,
        {"title": "Revenue by category"},
    ),
    (
        "bar-horizontal",
        "Chart units sold by product",
        result(
            ["product_name", "units"], ["VARCHAR", "BIGINT"], [[n, 3 + i] for i, n in enumerate(LONG_NAMES)]
        ),
        None,
        {},
    ),
    ("bar-grouped", "Chart revenue by category and channel", BY_CATEGORY_CHANNEL, None, {}),
    ("bar-stacked", "Stacked bar chart of revenue by category and channel", BY_CATEGORY_CHANNEL, None, {}),
    ("bar-grouped-horizontal", "Chart units by product and channel", LONG_BY_CHANNEL, None, {}),
    (
        "pie",
        "Pie chart of the share of orders by channel",
        result(["channel", "orders"], ["VARCHAR", "BIGINT"], [["web", 120], ["mobile", 80], ["store", 40]]),
        None,
        {"title": "Share of orders"},
    ),
    ("scatter", "Plot discount against margin", SCATTER, None, {}),
    (
        "scatter-color",
        None,
        SCATTER,
        ChartChoice("point", "discount", "margin", "segment", tooltip=("discount",)),
        {},
    ),
    (
        "hint-pie",
        "chart revenue by category",
        result(
            ["category", "revenue"],
            ["VARCHAR", "DOUBLE"],
            [[c, 5.0 + i] for i, c in enumerate(CATEGORIES[:3])],
        ),
        {"mark": "pie", "x": "category", "y": "revenue"},
        {},
    ),
    (
        "capped",
        "Show monthly revenue as a chart",
        MONTHLY | {"row_count": 600, "truncated": True},
        None,
        {"max_rows": 3},
    ),
    ("capped-only-here", "Show monthly revenue as a chart", MONTHLY, None, {"max_rows": 2}),
    ("bare-choice", None, MONTHLY, ChartChoice("line", "month", "revenue"), {}),
    ("scatter-plain", None, SCATTER, ChartChoice("point", "discount", "margin"), {}),
    (
        "line-many-points",
        "Plot daily visits",
        result(
            ["day", "visits"],
            ["DATE", "BIGINT"],
            [[f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}", i] for i in range(70)],
        ),
        None,
        {},
    ),
]


def spec_for(
    question: str | None, data: dict[str, Any], choice_or_hint: Any, build: dict[str, Any]
) -> dict[str, Any]:
    choice = choice_or_hint if question is None else choose_chart(question, data, choice_or_hint)
    assert choice is not None
    return build_chart_spec(choice, data, **build)


def test_every_case_is_pinned():
    pinned = json.loads(PINNED.read_text())
    assert sorted(pinned) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(
    ("question", "data", "choice", "build"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_spec(request, question, data, choice, build):
    spec = spec_for(question, data, choice, build)
    assert_pinned(PINNED, request.node.callspec.id, spec)
