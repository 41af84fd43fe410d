"""Chart choice on many result shapes; every produced spec is inline Vega-Lite that renders with vl-convert."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
import vl_convert as vlc

from analytics_chat.presentation.charts import (
    ChartChoice,
    build_chart_spec,
    choose_chart,
    describe_columns,
    wanted_placeholders,
)
from analytics_chat.presentation.render import render_svg
from tests.presentation.results import result

MONTHS = [(date(2025, 1, 1) + timedelta(days=31 * i)).replace(day=1).isoformat() for i in range(12)]
CATEGORIES = ["Laptops", "Phones", "Furniture", "Office", "Audio"]
LONG_NAMES = [
    "Ergonomic Office Chair Deluxe",
    "Noise Cancelling Headphones",
    "Standing Desk Pro",
    "USB-C Hub",
]

# id, question, result, expected mark (None: no chart), expected x, expected y, extra expectations
SHAPES = [
    (
        "time-series",
        "Show monthly revenue for 2025 as a chart",
        result(
            ["month", "revenue"],
            ["DATE", "DECIMAL(18,2)"],
            [[m, 100.0 + i * 7.5] for i, m in enumerate(MONTHS)],
        ),
        "line",
        "month",
        "revenue",
        {},
    ),
    (
        "time-series-area",
        "Plot revenue over time as an area chart",
        result(["month", "revenue"], ["DATE", "DOUBLE"], [[m, 10.0 + i] for i, m in enumerate(MONTHS)]),
        "area",
        "month",
        "revenue",
        {},
    ),
    (
        "dates-as-strings",
        "Chart the monthly order trend",
        result(
            ["order_month", "orders"], ["VARCHAR", "BIGINT"], [[m[:7], 40 + i] for i, m in enumerate(MONTHS)]
        ),
        "line",
        "order_month",
        "orders",
        {"x_type": "temporal"},
    ),
    (
        "timestamps",
        "Plot hourly sessions",
        result(
            ["hour_start", "sessions"],
            ["TIMESTAMP", "BIGINT"],
            [[f"2025-03-01T{h:02d}:00:00", 5 + h] for h in range(12)],
        ),
        "line",
        "hour_start",
        "sessions",
        {"x_type": "temporal", "no_time_unit": True},
    ),
    (
        "quarter-numbers",
        "Chart revenue per quarter in 2024",
        result(["quarter", "revenue"], ["INTEGER", "DOUBLE"], [[q, 1000.0 * q] for q in range(1, 5)]),
        "line",
        "quarter",
        "revenue",
        {"x_type": "ordinal"},
    ),
    (
        "years-and-series",
        "Plot new customers each year by segment",
        result(
            ["signup_year", "segment", "customers"],
            ["BIGINT", "VARCHAR", "BIGINT"],
            [[y, s, 10 + y % 7 + len(s)] for y in range(2020, 2026) for s in ("Consumer", "Corporate")],
        ),
        "line",
        "signup_year",
        "customers",
        {"color": "segment", "x_type": "ordinal"},
    ),
    (
        "categories",
        "Visualize revenue by category",
        result(
            ["category", "revenue"],
            ["VARCHAR", "DOUBLE"],
            [[c, 50.0 * (i + 1)] for i, c in enumerate(CATEGORIES)],
        ),
        "bar",
        "category",
        "revenue",
        {"horizontal": False, "sort": "-y"},
    ),
    (
        "long-labels",
        "Chart units sold by product",
        result(
            ["product_name", "units"], ["VARCHAR", "BIGINT"], [[n, 3 + i] for i, n in enumerate(LONG_NAMES)]
        ),
        "bar",
        "product_name",
        "units",
        {"horizontal": True, "sort": "-x"},
    ),
    (
        "many-categories",
        "Graph the number of customers per country",
        result(["country", "customers"], ["VARCHAR", "BIGINT"], [[f"C{i:02d}", i + 1] for i in range(25)]),
        "bar",
        "country",
        "customers",
        {"horizontal": True},
    ),
    (
        "too-many-categories",
        "Chart revenue by customer",
        result(
            ["customer", "revenue"], ["VARCHAR", "DOUBLE"], [[f"Customer {i}", float(i)] for i in range(300)]
        ),
        None,
        None,
        None,
        {},
    ),
    (
        "two-dimensions",
        "Chart revenue by category and channel",
        result(
            ["category", "channel", "revenue"],
            ["VARCHAR", "VARCHAR", "DOUBLE"],
            [
                [c, ch, float(i * 3 + j)]
                for i, c in enumerate(CATEGORIES)
                for j, ch in enumerate(("web", "mobile"))
            ],
        ),
        "bar",
        "category",
        "revenue",
        {"color": "channel", "offset": True},
    ),
    (
        "two-dimensions-stacked",
        "Show a stacked bar chart of revenue by category and channel",
        result(
            ["category", "channel", "revenue"],
            ["VARCHAR", "VARCHAR", "DOUBLE"],
            [
                [c, ch, float(i * 3 + j + 1)]
                for i, c in enumerate(CATEGORIES)
                for j, ch in enumerate(("web", "mobile"))
            ],
        ),
        "bar",
        "category",
        "revenue",
        {"color": "channel", "offset": False, "stacked": True},
    ),
    (
        "share-pie",
        "Pie chart of the share of orders by channel",
        result(["channel", "orders"], ["VARCHAR", "BIGINT"], [["web", 120], ["mobile", 80], ["store", 40]]),
        "arc",
        "channel",
        "orders",
        {},
    ),
    (
        "pie-with-too-many-slices",
        "Pie chart of customers by country",
        result(["country", "customers"], ["VARCHAR", "BIGINT"], [[f"Country {i}", i + 1] for i in range(15)]),
        "bar",
        "country",
        "customers",
        {},
    ),
    (
        "two-measures",
        "Plot discount against margin",
        result(["discount", "margin"], ["DOUBLE", "DOUBLE"], [[i / 20, 0.5 - i / 40] for i in range(10)]),
        "point",
        "discount",
        "margin",
        {},
    ),
    (
        "id-and-name",
        "Chart the top customers by revenue",
        result(
            ["customer_id", "customer_name", "revenue"],
            ["INTEGER", "VARCHAR", "DOUBLE"],
            [[10 + i, f"Cust {i}", 900.0 - i * 100] for i in range(5)],
        ),
        "bar",
        "customer_name",
        "revenue",
        {"color": None},
    ),
    ("single-value", "Chart total revenue", result(["total"], ["DOUBLE"], [[12.5]]), None, None, None, {}),
    (
        "empty",
        "Plot revenue by month",
        result(["month", "revenue"], ["DATE", "DOUBLE"], []),
        None,
        None,
        None,
        {},
    ),
    (
        "wide-table",
        "Chart the orders",
        result(
            [f"c{i}" for i in range(8)], ["VARCHAR"] * 4 + ["DOUBLE"] * 4, [[*"abcd", 1.0, 2.0, 3.0, 4.0]] * 3
        ),
        None,
        None,
        None,
        {},
    ),
    (
        "text-only",
        "Visualize the sales reps",
        result(["name", "region"], ["VARCHAR", "VARCHAR"], [["Ann", "Europe"], ["Bo", "Asia"]]),
        None,
        None,
        None,
        {},
    ),
]


def _encoding(spec: dict[str, Any]) -> dict[str, Any]:
    return spec.get("encoding") or spec["layer"][0]["encoding"]


@pytest.mark.parametrize(
    ("question", "data", "mark", "x", "y", "extra"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_chart_choice_and_spec_per_shape(question, data, mark, x, y, extra):
    choice = choose_chart(question, data)
    if mark is None:
        assert choice is None
        return
    assert choice is not None
    assert (choice.mark, choice.x, choice.y) == (mark, x, y)
    for key in ("horizontal", "stacked"):
        if key in extra:
            assert getattr(choice, key) is extra[key]
    if "color" in extra:
        assert choice.color == extra["color"]

    spec = build_chart_spec(choice, data, title="A title")
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v")
    assert spec["data"]["values"] == [
        {name: row[data["columns"].index(name)] for name in spec["data"]["values"][0]} for row in data["rows"]
    ]
    assert spec["mark"]["type"] == mark
    encoding = spec["encoding"]
    assert encoding["tooltip"], "every chart has tooltips"
    if mark == "arc":
        assert encoding["theta"]["field"] == y and encoding["theta"]["type"] == "quantitative"
        assert encoding["color"]["field"] == x
    else:
        position, amount = ("y", "x") if choice.horizontal else ("x", "y")
        assert encoding[position]["field"] == x
        assert encoding[amount]["field"] == y and encoding[amount]["type"] == "quantitative"
        assert encoding[amount]["title"][0].isupper() and "_" not in encoding[amount]["title"]
        if "x_type" in extra:
            assert encoding[position]["type"] == extra["x_type"]
        if "sort" in extra:
            assert encoding[position]["sort"] == extra["sort"]
        if extra.get("no_time_unit"):
            assert "timeUnit" not in encoding[position]
        if "offset" in extra:
            assert ("xOffset" in encoding) is extra["offset"]

    svg = render_svg(spec)
    assert svg.lstrip().startswith("<svg") and "A title" in svg
    # The same spec also compiles and renders with the Vega-Lite 5 bundle (the v5 JSON contract).
    v5 = copy.deepcopy(spec) | {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.20.1.json",
        "width": 400,
    }
    assert vlc.vegalite_to_svg(v5, vl_version="5.20").lstrip().startswith("<svg")


def test_shapes_cover_at_least_twelve_distinct_results():
    assert len({s[0] for s in SHAPES}) >= 12
    assert {s[3] for s in SHAPES} >= {"line", "area", "bar", "arc", "point", None}


def test_dates_of_months_use_a_utc_month_unit_so_they_do_not_slip_a_day():
    data = SHAPES[0][2]
    spec = build_chart_spec(choose_chart("trend", data), data)
    assert spec["encoding"]["x"]["timeUnit"] == "utcyearmonth"


def test_inline_data_is_capped_and_the_cap_is_recorded():
    data = result(
        ["day", "visits"],
        ["DATE", "BIGINT"],
        [[(date(2020, 1, 1) + timedelta(days=i)).isoformat(), i] for i in range(900)],
    )
    data["row_count"], data["truncated"] = 5000, True
    spec = build_chart_spec(choose_chart("visits over time", data), data, max_rows=300)
    assert len(spec["data"]["values"]) == 300
    assert spec["usermeta"] == {"rows_in_chart": 300, "row_count": 5000, "truncated": True}
    assert render_svg(spec).startswith("<svg")


def test_column_roles_from_types_names_and_values():
    data = result(
        ["order_id", "quarter", "day", "amount", "label"],
        ["BIGINT", "INTEGER", "VARCHAR", "DECIMAL(18,2)", "VARCHAR"],
        [[1, 1, "2024-01-02", 3.5, "x"], [2, 2, "2024-01-03", 4.0, "y"]],
    )
    data["columns"][3] = "days_to_ship"  # a count of days is an amount, not a period
    data["types"][3] = "BIGINT"
    roles = {c.name: c.role for c in describe_columns(data)}
    assert roles == {
        "order_id": "category",
        "quarter": "period",
        "day": "temporal",
        "days_to_ship": "measure",
        "label": "category",
    }


def test_hint_may_pick_another_valid_encoding():
    data = SHAPES[6][2]  # category + revenue
    assert (
        choose_chart(
            "chart revenue by category", data, hint={"mark": "pie", "x": "category", "y": "revenue"}
        ).mark
        == "arc"
    )
    two = SHAPES[10][2]
    swapped = choose_chart(
        "chart it", two, hint={"mark": "bar", "x": "channel", "y": "revenue", "color": "category"}
    )
    assert (swapped.x, swapped.color) == ("channel", "category")


def test_hint_naming_missing_columns_or_wrong_roles_is_ignored():
    data = SHAPES[6][2]
    default = choose_chart("chart revenue by category", data)
    assert (
        choose_chart("chart revenue by category", data, hint={"mark": "bar", "x": "nope", "y": "category"})
        == default
    )
    assert (
        choose_chart("chart revenue by category", data, hint={"mark": "sparkle", "y": "DROP TABLE"})
        == default
    )
    # A scatter needs two measures; this result has one, so the hint cannot force it.
    assert choose_chart("chart revenue by category", data, hint={"mark": "point", "x": "category"}) == default


def test_hint_cannot_force_a_chart_where_none_helps():
    single = result(["total"], ["DOUBLE"], [[1.0]])
    assert choose_chart("chart", single, hint={"mark": "bar", "x": "total", "y": "total"}) is None


def test_build_rejects_columns_that_are_not_in_the_result():
    data = SHAPES[6][2]
    with pytest.raises(ValueError, match="'missing' is not in the result columns"):
        build_chart_spec(ChartChoice("bar", "missing", "revenue"), data)
    with pytest.raises(ValueError, match="is not a number"):
        build_chart_spec(ChartChoice("bar", "revenue", "category"), data)


def test_malformed_results_get_a_clear_error():
    with pytest.raises(ValueError, match="2 columns but 1 types"):
        choose_chart("chart", {"columns": ["a", "b"], "types": ["INTEGER"], "rows": [[1, 2]]})
    with pytest.raises(ValueError, match="row 1 has 1 values"):
        choose_chart(
            "chart", {"columns": ["a", "b"], "types": ["VARCHAR", "INTEGER"], "rows": [["x", 1], ["y"]]}
        )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Can you show me the sales trend for the last 6 months?", {"chart_spec"}),
        ("Plot orders per month", {"chart_spec"}),
        ("Visualize revenue by region", {"chart_spec"}),
        ("How did revenue change over time?", {"chart_spec"}),
        ("Give me the query and a visualization of sales by month", {"sql", "chart_spec"}),
        ("Show me the SQL for customers per country", {"sql"}),
        ("What data do you have?", {"catalog"}),
        ("Which tables can I ask about?", {"catalog"}),
        ("How is gross margin defined?", {"semantic_context"}),
        ("How do you calculate active customers?", {"semantic_context"}),
        ("What is the total revenue in 2024?", set()),
        ("Which city has the most orders?", set()),
        ("What fraction of orders got cancelled?", set()),
        ("List orders per channel as a table", {"data"}),
    ],
)
def test_wanted_placeholders(question, expected):
    assert wanted_placeholders(question) == expected
