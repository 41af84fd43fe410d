"""Which placeholders a question asks for, which chart fits a result, and the Vega-Lite spec for it.

The chart is chosen from the result's shape (column roles) and a few words of the question; a model may
suggest an encoding through ``hint`` but only columns that exist, in roles that fit, are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import altair as alt

from catalog.column_types import is_date, is_integer, is_number

# --- what the question asks for ------------------------------------------------------------------

_WANTS_PATTERNS: dict[str, re.Pattern[str]] = {
    "chart_spec": re.compile(
        r"\b(trends?|trending|plot|plotted|chart|graph|visuali[sz](e|ation)|over\s+time|pie|donut|"
        r"histogram|scatter|diagram)\b",
        re.IGNORECASE,
    ),
    "sql": re.compile(
        r"\bsql\b|\b(show|give|see|display|print|share|what|which|write)\b[^.?!]*\bquery\b|\bthe\s+query\b",
        re.IGNORECASE,
    ),
    "catalog": re.compile(
        r"\b(what|which)\b[^.?!]*\b(tables?|datasets?|data\s*sources?|data|columns|fields)\b[^.?!]*"
        r"\b(have|available|ask|exist|there|know|contain|access|offer)\b"
        r"|\b(list|show|describe)\b[^.?!]*\b(tables|datasets|data\s*sources|schema)\b"
        r"|\bwhat\s+can\s+i\s+ask\b",
        re.IGNORECASE,
    ),
    "semantic_context": re.compile(
        r"\bhow\s+(is|are|do|does|did|was|were|you|would)\b[^.?!]*"
        r"\b(defin|calculat|comput|measur|deriv|determin)\w*"
        r"|\b(definition|meaning)\s+of\b|\bwhat\s+(does|do)\b[^.?!]*\bmean\b",
        re.IGNORECASE,
    ),
    "data": re.compile(
        r"\b(as\s+a\s+table|in\s+a\s+table|tabl(e|ular)|raw\s+data|the\s+rows)\b", re.IGNORECASE
    ),
}


def wanted_placeholders(question: str) -> set[str]:
    """The placeholders a question explicitly asks for ("plot ..." → chart_spec, "show the SQL" → sql, ...)."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, got {type(question).__name__}")
    return {name for name, pattern in _WANTS_PATTERNS.items() if pattern.search(question)}


# --- column roles ----------------------------------------------------------------------------------

TEMPORAL = "temporal"  # a date or timestamp (typed, or ISO strings)
PERIOD = "period"  # an integer period number: year, quarter, month, week ...
MEASURE = "measure"  # a number to plot
CATEGORY = "category"  # anything to group by or label with

MAX_BAR_CATEGORIES = 40  # more bars than this are unreadable; no chart
MAX_ARC_CATEGORIES = 8  # a pie with more slices than this is worse than a bar
MAX_COLOR_SERIES = 12  # distinct colours a legend can still explain
MAX_CHART_COLUMNS = 6  # wider results are tables, not charts
LONG_LABEL = 14  # characters; longer category labels read better on a horizontal bar
MANY_BARS = 12  # more vertical bars than this get crowded

# Whole period names only: order_year, quarter, month_number, day_of_week (but not days_to_ship).
_PERIOD_NAME = re.compile(
    r"(^|_)(year|yr|quarter|qtr|month|week|day|hour|weekday|dow)(_?(number|num|no|of_year|of_month|of_week))?$",
    re.IGNORECASE,
)
_ID_NAME = re.compile(r"(^id$|_id$|^id_|_key$|^key$)", re.IGNORECASE)
# ISO dates as strings: 2024-01-31, 2024-01, 2024-01-31T10:00:00, 2024-01-31 10:00:00
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    role: str
    distinct: int
    max_label: int  # longest rendered value, in characters


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe_columns(data: dict[str, Any]) -> list[Column]:
    """The role of each result column, from its DuckDB type, its name and its values."""
    _check_data(data)
    columns = []
    for index, (name, type_name) in enumerate(zip(data["columns"], data["types"], strict=True)):
        values = [row[index] for row in data["rows"] if row[index] is not None]
        type_name = str(type_name)
        if is_date(type_name) or (
            values and all(isinstance(v, str | date | datetime) and _ISO_DATE.match(str(v)) for v in values)
        ):
            role = TEMPORAL
        elif is_number(type_name) or (values and all(_is_number(v) for v in values)):
            integer = is_integer(type_name) or all(isinstance(v, int) for v in values)
            if integer and _ID_NAME.search(name):
                role = CATEGORY  # an identifier is a label, not an amount
            elif integer and _PERIOD_NAME.search(name):
                role = PERIOD  # quarter 1..4 or year 2024 are positions in time, not amounts
            else:
                role = MEASURE
        else:
            role = CATEGORY
        distinct = len({str(v) for v in values})
        max_label = max((len(str(v)) for v in values), default=0)
        columns.append(Column(name, type_name, role, distinct, max_label))
    return columns


def _check_data(data: Any) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict with columns, types and rows, got {type(data).__name__}")
    for key in ("columns", "types", "rows"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"data[{key!r}] must be a list")
    if len(data["columns"]) != len(data["types"]):
        raise ValueError(f"data has {len(data['columns'])} columns but {len(data['types'])} types")
    for number, row in enumerate(data["rows"]):
        if len(row) != len(data["columns"]):
            raise ValueError(f"data row {number} has {len(row)} values, expected {len(data['columns'])}")


# --- the choice ------------------------------------------------------------------------------------

MARKS = ("line", "area", "bar", "arc", "point")
_MARK_ALIASES = {"pie": "arc", "donut": "arc", "scatter": "point", "circle": "point", "column": "bar"}


@dataclass(frozen=True)
class ChartChoice:
    """A chart in words: the mark and which column goes on which channel.

    For ``arc`` the measure is ``y`` (drawn as theta) and the category is ``color``.
    """

    mark: str
    x: str
    y: str
    color: str | None = None
    horizontal: bool = False  # bars drawn left to right (long or many labels)
    stacked: bool = False  # two dimensions: stacked instead of grouped bars / areas
    tooltip: tuple[str, ...] = field(default_factory=tuple)


_ASKS = {
    "area": re.compile(r"\barea\b|\bcumulative\b", re.I),
    "stacked": re.compile(r"\bstack(ed)?\b", re.I),
    "arc": re.compile(
        r"\b(pie|donut|doughnut|share|shares|proportions?|percentages?|composition|split)\b", re.I
    ),
    "point": re.compile(r"\b(scatter|correlat\w*|versus|vs\.?|against|relationship)\b", re.I),
    "bar": re.compile(r"\b(bar|bars|column chart|histogram)\b", re.I),
    "line": re.compile(r"\bline\b", re.I),
    "horizontal": re.compile(r"\bhorizontal\b", re.I),
}


def choose_chart(
    question: str, data: dict[str, Any] | None, hint: dict[str, Any] | None = None
) -> ChartChoice | None:
    """The chart that fits this result, or None where a chart would not help.

    ``hint`` ({mark, x, y, color}, e.g. from the model) may pick another valid encoding; a part naming a
    column that does not exist, or a column in a role it cannot play, is ignored.
    """
    if data is None or not data.get("rows"):
        return None
    columns = describe_columns(data)
    if len(data["rows"]) < 2 or len(columns) > MAX_CHART_COLUMNS:
        return None  # a single value reads better as a sentence, a wide table as a table
    choice = _choice_from_shape(question or "", columns)
    if isinstance(hint, dict) and hint:  # anything else from a model is not a usable hint
        choice = _apply_hint(choice, hint, columns)
    return choice


def _choice_from_shape(question: str, columns: list[Column]) -> ChartChoice | None:
    measures = [c for c in columns if c.role == MEASURE]
    times = [c for c in columns if c.role in (TEMPORAL, PERIOD)]
    categories = _useful_categories([c for c in columns if c.role == CATEGORY])
    tooltip = tuple(c.name for c in columns)
    if not measures:
        return None
    measure = measures[0]

    if times and (len(measures) == 1 or not _ASKS["point"].search(question)):
        time = times[0]
        series = next((c for c in categories + times[1:] if c.distinct <= MAX_COLOR_SERIES), None)
        if _ASKS["bar"].search(question):
            return ChartChoice(
                "bar", time.name, measure.name, series.name if series else None, stacked=True, tooltip=tooltip
            )
        area = bool(_ASKS["area"].search(question)) or bool(series and _ASKS["stacked"].search(question))
        mark = "area" if area else "line"
        return ChartChoice(
            mark, time.name, measure.name, series.name if series else None, stacked=area, tooltip=tooltip
        )

    if len(measures) >= 2 and (not categories or _ASKS["point"].search(question)):
        color = next((c.name for c in categories if c.distinct <= MAX_COLOR_SERIES), None)
        return ChartChoice("point", measures[0].name, measures[1].name, color, tooltip=tooltip)

    if not categories:
        return None
    category = categories[0]
    if category.distinct > MAX_BAR_CATEGORIES:
        return None

    if len(categories) >= 2:
        second = categories[1]
        if second.distinct > MAX_COLOR_SERIES:
            category, second = second, category
        if second.distinct > MAX_COLOR_SERIES or category.distinct > MAX_BAR_CATEGORIES:
            return None
        stacked = bool(_ASKS["stacked"].search(question))
        horizontal = _wants_horizontal(question, category)
        return ChartChoice("bar", category.name, measure.name, second.name, horizontal, stacked, tooltip)

    if (
        _ASKS["arc"].search(question)
        and category.distinct <= MAX_ARC_CATEGORIES
        and not _ASKS["bar"].search(question)
    ):
        return ChartChoice("arc", category.name, measure.name, category.name, tooltip=tooltip)
    return ChartChoice(
        "bar", category.name, measure.name, horizontal=_wants_horizontal(question, category), tooltip=tooltip
    )


def _useful_categories(categories: list[Column]) -> list[Column]:
    """Categories worth a channel: an id beside a name is the same grouping twice, keep the name."""
    named = [c for c in categories if not _ID_NAME.search(c.name)]
    return named or categories


def _wants_horizontal(question: str, category: Column) -> bool:
    return (
        bool(_ASKS["horizontal"].search(question))
        or category.max_label > LONG_LABEL
        or category.distinct > MANY_BARS
    )


def _apply_hint(
    choice: ChartChoice | None, hint: dict[str, Any], columns: list[Column]
) -> ChartChoice | None:
    by_name = {c.name: c for c in columns}
    mark = hint.get("mark")
    mark = _MARK_ALIASES.get(str(mark).lower(), str(mark).lower()) if mark else None
    mark = mark if mark in MARKS else None
    x, y, color = (
        hint.get(k) if isinstance(hint.get(k), str) and hint.get(k) in by_name else None
        for k in ("x", "y", "color")
    )
    mark = mark or (choice.mark if choice else None)
    if mark is None:
        return choice
    # A channel is only valid in a role that makes sense for it.
    if y is not None and by_name[y].role != MEASURE:
        y = None
    if x is not None and mark == "point" and by_name[x].role != MEASURE:
        x = None
    if x is not None and mark != "point" and by_name[x].role == MEASURE:
        x = None
    if color is not None and (by_name[color].role == MEASURE or by_name[color].distinct > MAX_COLOR_SERIES):
        color = None
    x = x or (choice.x if choice else None)
    y = y or (choice.y if choice else None)
    if x is None or y is None or x == y:
        return choice
    if mark != "point" and by_name[x].role == MEASURE:
        return choice  # the hint changed the mark to one the default x cannot serve
    if mark == "point" and by_name[x].role != MEASURE:
        return choice
    if mark == "arc":
        if by_name[x].role != CATEGORY or by_name[x].distinct > MAX_ARC_CATEGORIES:
            return choice
        color = x
    elif color is None and choice is not None and choice.color not in (x, y):
        color = choice.color
    if mark in ("bar", "arc") and by_name[x].distinct > MAX_BAR_CATEGORIES:
        return choice
    horizontal = mark == "bar" and by_name[x].role == CATEGORY and _wants_horizontal("", by_name[x])
    stacked = bool(choice and choice.stacked) or mark == "area"
    tooltip = choice.tooltip if choice else tuple(by_name)
    return ChartChoice(mark, x, y, color, horizontal, stacked, tooltip)


# --- the spec ----------------------------------------------------------------------------------------


def humanize(name: str) -> str:
    """An axis title from a column name: total_revenue → Total revenue."""
    words = re.sub(r"[_\s]+", " ", name).strip()
    return words[:1].upper() + words[1:] if words else name


def _vega_type(column: Column) -> str:
    if column.role == TEMPORAL:
        return "temporal"
    if column.role == PERIOD:
        return "ordinal"
    if column.role == MEASURE:
        return "quantitative"
    return "nominal"


_MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]00:00:00(\.0+)?$")


def time_unit(values: list[Any]) -> str | None:
    """The calendar step of date values ("utcyearmonth", "yearmonthdate", ...), None for real timestamps.

    Date-only strings are parsed as UTC by Vega and midnight timestamps as local time, so the unit's
    "utc" prefix follows the form; otherwise a month can slip to the last day of the one before.
    """
    texts = [str(v) for v in values if v is not None]
    if not texts:
        return None
    if all(len(t) <= 10 for t in texts):
        prefix, days = "utc", texts
    elif all(_MIDNIGHT.match(t) for t in texts):
        prefix, days = "", [t[:10] for t in texts]  # date_trunc('month', ...) gives TIMESTAMPs
    else:
        return None
    if all(len(d) == 7 for d in days) or all(d.endswith("-01") for d in days):
        if all(d[5:7] == "01" for d in days) and len({d[:4] for d in days}) == len(days):
            return prefix + "year"
        return prefix + "yearmonth"
    return prefix + "yearmonthdate"


def format_date(value: Any, unit: str | None) -> str:
    """A date as its calendar step reads: 2025-02 for a month, 2025 for a year."""
    text = str(value)
    if unit is None:
        return text
    if unit.endswith("yearmonthdate"):
        return text[:10]
    return text[:7] if unit.endswith("yearmonth") else text[:4]


def _number_format(column: Column) -> str:
    return ",d" if is_integer(column.type) else ",.2~f"


def build_chart_spec(
    choice: ChartChoice, data: dict[str, Any], title: str | None = None, max_rows: int = 5000
) -> dict[str, Any]:
    """Vega-Lite JSON (built with Altair) with the first ``max_rows`` rows inline."""
    columns = _checked_columns(choice, data, max_rows)
    used = _used_columns(choice, data)
    index = {name: i for i, name in enumerate(data["columns"])}
    values = [{name: row[index[name]] for name in used} for row in data["rows"][:max_rows]]
    encodings = _Encodings(columns, values)
    # Altair validates the spec against the schema; validating thousands of inline rows costs seconds,
    # so it sees one row and the full (already JSON-safe) values are put in afterwards.
    chart = alt.Chart(alt.Data(values=values[:1]))
    tooltips = [encodings.tooltip(name) for name in used]
    if choice.mark == "arc":
        chart = _pie(chart, choice, encodings, tooltips)
    elif choice.mark == "point":
        chart = _scatter(chart, choice, encodings, tooltips)
    else:
        chart = _on_axes(chart, choice, encodings, tooltips)
    spec = chart.properties(**_chart_properties(choice, title)).to_dict()
    spec["data"] = {"values": values}
    spec["usermeta"] = {"rows_in_chart": len(values), "row_count": data.get("row_count", len(data["rows"]))}
    spec["usermeta"]["truncated"] = bool(data.get("truncated")) or len(values) < len(data["rows"])
    return spec


def _checked_columns(choice: ChartChoice, data: dict[str, Any], max_rows: int) -> dict[str, Column]:
    """The result's columns by name, once the choice is known to fit them (a clear error if it does not)."""
    if not isinstance(choice, ChartChoice):
        raise TypeError(f"choice must be a ChartChoice, got {type(choice).__name__}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    columns = {c.name: c for c in describe_columns(data)}
    for channel in ("x", "y", "color"):
        name = getattr(choice, channel)
        if name is not None and name not in columns:
            raise ValueError(f"chart {channel} column {name!r} is not in the result columns {list(columns)}")
    if columns[choice.y].role != MEASURE:
        raise ValueError(f"chart y column {choice.y!r} is not a number")
    return columns


def _used_columns(choice: ChartChoice, data: dict[str, Any]) -> list[str]:
    """The columns the chart shows, on a channel or in the tooltip, once each: only these go inline."""
    names = set(data["columns"])
    return [
        name
        for name in dict.fromkeys((choice.x, choice.y, choice.color, *choice.tooltip))
        if name is not None and name in names
    ]


@dataclass(frozen=True)
class _Encodings:
    """Encodings of result columns, built in one place so that a column's channel and its tooltip agree on
    its Vega type, its title and its calendar step."""

    columns: dict[str, Column]
    values: list[dict[str, Any]]  # the rows inline in the chart

    def encode(self, name: str, channel: Any, **extra: Any) -> Any:
        """``name`` on ``channel`` (alt.X, alt.Color, ...), with ``extra`` channel options."""
        column = self.columns[name]
        kwargs: dict[str, Any] = {"type": _vega_type(column), "title": humanize(name), **extra}
        if column.role == TEMPORAL:
            unit = time_unit([v[name] for v in self.values])
            if unit:
                kwargs["timeUnit"] = unit
        return channel(name, **kwargs)

    def tooltip(self, name: str) -> alt.Tooltip:
        """``name`` in the tooltip: amounts with thousands separators, dates at their calendar step."""
        column = self.columns[name]
        kwargs: dict[str, Any] = {"type": _vega_type(column), "title": humanize(name)}
        if column.role == MEASURE:
            kwargs["format"] = _number_format(column)
        elif column.role == TEMPORAL:
            unit = time_unit([v[name] for v in self.values])
            if unit:
                kwargs["timeUnit"] = unit
        return alt.Tooltip(name, **kwargs)


def _pie(chart: alt.Chart, choice: ChartChoice, encodings: _Encodings, tooltips: list[Any]) -> alt.Chart:
    """An arc per category, largest first, with each slice's share of the total in its tooltip."""
    return (
        chart.mark_arc(innerRadius=0)
        .transform_joinaggregate(total=f"sum({choice.y})")
        .transform_calculate(share=f"datum['{choice.y}'] / datum.total")
        .encode(
            theta=encodings.encode(choice.y, alt.Theta, stack=True),
            color=encodings.encode(
                choice.x, alt.Color, sort=alt.EncodingSortField(choice.y, order="descending")
            ),
            order=alt.Order(choice.y, type="quantitative", sort="descending"),
            tooltip=[*tooltips, alt.Tooltip("share", type="quantitative", format=".1%", title="Share")],
        )
    )


def _scatter(chart: alt.Chart, choice: ChartChoice, encodings: _Encodings, tooltips: list[Any]) -> alt.Chart:
    """A point per row on two measures; neither axis starts at zero, so the cloud fills the plot."""
    chart = chart.mark_point(filled=True, size=60).encode(
        x=encodings.encode(choice.x, alt.X, scale=alt.Scale(zero=False)),
        y=encodings.encode(choice.y, alt.Y, scale=alt.Scale(zero=False)),
        tooltip=tooltips,
    )
    if choice.color:
        chart = chart.encode(color=encodings.encode(choice.color, alt.Color))
    return chart


def _on_axes(chart: alt.Chart, choice: ChartChoice, encodings: _Encodings, tooltips: list[Any]) -> alt.Chart:
    """Line, area or bar: ``x`` along one axis, the amount along the other (swapped for horizontal bars)."""
    position, amount = _position_and_amount(choice, encodings)
    chart = chart.encode(y=position, x=amount) if choice.horizontal else chart.encode(x=position, y=amount)
    if choice.mark == "bar":
        chart = chart.mark_bar()
    elif choice.mark == "area":
        chart = chart.mark_area(line=True, opacity=0.7)
    else:
        chart = chart.mark_line(point=len(encodings.values) <= 60)
    return _with_series(chart, choice, encodings).encode(tooltip=tooltips)


def _position_and_amount(choice: ChartChoice, encodings: _Encodings) -> tuple[Any, Any]:
    """The encodings of ``x`` (where a mark is) and ``y`` (how much), on whichever axes they go."""
    category = encodings.columns[choice.x]
    # Nominal bars read best sorted by size; time and period numbers keep their natural order.
    sort: Any = alt.Undefined
    if choice.mark == "bar" and category.role == CATEGORY:
        sort = "-x" if choice.horizontal else "-y"
    axis = alt.Axis(labelAngle=0) if category.role != TEMPORAL and not choice.horizontal else alt.Undefined
    position = encodings.encode(choice.x, alt.Y if choice.horizontal else alt.X, sort=sort, axis=axis)
    # Counts get whole-number ticks: 2.5 orders is not a thing.
    ticks = alt.Axis(tickMinStep=1) if is_integer(encodings.columns[choice.y].type) else alt.Undefined
    stack = "zero" if choice.stacked else alt.Undefined
    amount = encodings.encode(choice.y, alt.X if choice.horizontal else alt.Y, stack=stack, axis=ticks)
    return position, amount


def _with_series(chart: alt.Chart, choice: ChartChoice, encodings: _Encodings) -> alt.Chart:
    """``color`` as series: coloured lines or areas, and bars side by side unless they are stacked."""
    if not choice.color:
        return chart
    chart = chart.encode(color=encodings.encode(choice.color, alt.Color))
    if choice.mark == "bar" and not choice.stacked:
        if choice.horizontal:
            chart = chart.encode(yOffset=encodings.encode(choice.color, alt.YOffset))
        else:
            chart = chart.encode(xOffset=encodings.encode(choice.color, alt.XOffset))
    return chart


def _chart_properties(choice: ChartChoice, title: str | None) -> dict[str, Any]:
    """Size and title: as wide as its container (a pie keeps its own), horizontal bars one band a label."""
    properties: dict[str, Any] = {"width": "container" if choice.mark != "arc" else 320, "height": 320}
    if choice.mark == "bar" and choice.horizontal:
        properties["height"] = alt.Step(22)  # one readable band per label, however many there are
    if title:
        properties["title"] = title
    return properties
