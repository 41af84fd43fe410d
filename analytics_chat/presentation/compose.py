"""The response text: a sentence with the result's key figures, then the placeholders the question asks for.

Sentences come from fixed templates, and every number in them is checked against the result before it is
used (``assert_numbers_grounded``); a sentence that fails the check is dropped, never patched.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from altair.utils.schemapi import SchemaValidationError
from django.conf import settings

from analytics_chat.pipeline.state import CATALOG, DATA, DEFINITION, UNANSWERABLE, AnswerState
from analytics_chat.presentation.charts import (
    CATEGORY,
    MEASURE,
    PERIOD,
    TEMPORAL,
    Column,
    build_chart_spec,
    choose_chart,
    describe_columns,
    format_date,
    humanize,
    time_unit,
    wanted_placeholders,
)
from catalog.column_types import is_integer

logger = logging.getLogger(__name__)

# Chart answers also show the table when it is this short; longer results are the CSV download.
CHART_TABLE_MAX_ROWS = 20
CANNOT_ANSWER = "I cannot answer that from this data."

# --- numbers in text and their grounding -----------------------------------------------------------

# A number as we write it: 1,234.5 or -12 or 45.2%. The look-behind keeps "2024-03" from reading as -3.
_NUMBER = re.compile(r"(?<![\w.])(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?P<pct>\s?%)?")


class UngroundedNumberError(ValueError):
    """A sentence states a number that is not in the result."""


def _number_tokens(text: str) -> list[tuple[Decimal, int, bool]]:
    """(value, decimals shown, is a percent) for each number written in ``text``."""
    tokens = []
    for match in _NUMBER.finditer(text):
        digits = (match["sign"] or "") + match["int"].replace(",", "") + (match["frac"] or "")
        decimals = len(match["frac"]) - 1 if match["frac"] else 0
        tokens.append((Decimal(digits), decimals, bool(match["pct"])))
    return tokens


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (thousands separators and percent signs understood)."""
    return [float(value) for value, _, _ in _number_tokens(text)]


def _grounding_values(data: dict[str, Any]) -> list[Decimal]:
    """Numbers a sentence may state, sorted: cells, numbers inside text cells and names, and the counts."""
    values: set[Decimal] = set()
    names = [str(name) for name in data.get("columns", [])]
    # Column names count in both spellings: total_q1 and the "total q1" a sentence writes.
    for item in [
        *names,
        *(n.replace("_", " ") for n in names),
        data.get("row_count"),
        len(data.get("rows", [])),
    ]:
        values.update(_as_decimals(item))
    for row in data.get("rows", []):
        for cell in row:
            values.update(_as_decimals(cell))
    return sorted(values)


def _as_decimals(value: Any) -> list[Decimal]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, float):
        # The shortest repr (what people read) and the exact binary value (what formatting rounds).
        return [Decimal(repr(value)), Decimal(value)] if math.isfinite(value) else []
    if isinstance(value, int | Decimal):
        return [Decimal(value)]
    return [number for number, _, _ in _number_tokens(str(value))]


def _any_within(candidates: list[Decimal], low: Decimal, high: Decimal) -> bool:
    position = bisect.bisect_left(candidates, low)
    return position < len(candidates) and candidates[position] <= high


def assert_numbers_grounded(text: str, data: dict[str, Any] | None) -> None:
    """Raise UngroundedNumberError naming the first number in ``text`` that the result does not contain.

    A stated number is grounded when some result value rounds to it at the precision written
    (a percent may also be a fraction in the result: 12.5% grounds on 0.125).
    """
    tokens = _number_tokens(text)
    if not tokens:
        return
    candidates = _grounding_values(data or {})
    for stated, decimals, percent in tokens:
        # Half a unit of the last digit shown, and a hair more for binary floats rounded at the halfway point.
        slack = Decimal(5).scaleb(-decimals - 1) * Decimal("1.000001")
        grounded = _any_within(candidates, stated - slack, stated + slack) or (
            percent and _any_within(candidates, (stated - slack) / 100, (stated + slack) / 100)
        )
        if not grounded:
            shown = f"{stated}{'%' if percent else ''}"
            raise UngroundedNumberError(f"the number {shown} in {text!r} does not come from the result")


# --- formatting -------------------------------------------------------------------------------------

_CURRENCY_NAME = re.compile(
    r"revenue|sales|amount|price|cost|profit|spend|income|value|paid|payment|margin_amount", re.I
)
_PERCENT_NAME = re.compile(r"percent|pct|share|rate|ratio|proportion", re.I)


def _metric_formats(semantic_context: dict[str, Any] | None) -> dict[str, str]:
    """Column/metric name → "number" | "currency" | "percent", from the semantic layer's metrics."""
    formats: dict[str, str] = {}
    metrics = (semantic_context or {}).get("metrics") or []
    for metric in metrics if isinstance(metrics, list) else []:
        if isinstance(metric, dict) and metric.get("format") in ("number", "currency", "percent"):
            for key in (metric.get("name"), metric.get("label")):
                if isinstance(key, str):
                    formats[key.lower()] = metric["format"]
    return formats


def _value_kind(column: Column, values: list[Any], formats: dict[str, str]) -> str:
    if column.name.lower() in formats:
        return formats[column.name.lower()]
    if _PERCENT_NAME.search(column.name) and values and all(abs(v) <= 1 for v in values):
        return "percent"
    if _CURRENCY_NAME.search(column.name):
        return "currency"
    return "number"


def column_formats(
    data: dict[str, Any], metrics: Sequence[dict[str, Any]] = ()
) -> list[tuple[str, str | None]]:
    """(format, date unit) per result column, as a table shows it: "currency", "percent" or "number" for
    measures (the metric's own format first), "date" with its calendar step, "text" for the rest."""
    formats = {m["name"].lower(): m["format"] for m in metrics if m.get("format") and m.get("name")}
    shown: list[tuple[str, str | None]] = []
    for index, column in enumerate(describe_columns(data)):
        values = [row[index] for row in data["rows"]]
        if column.role == TEMPORAL:
            shown.append(("date", time_unit(values)))
        elif column.role == MEASURE:
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            shown.append((_value_kind(column, numbers, formats), None))
        else:
            shown.append(("text", None))
    return shown


def _metric_labels(semantic_context: dict[str, Any] | None) -> dict[str, str]:
    """Metric name → its label in the semantic layer ("aov" → "average order value")."""
    metrics = (semantic_context or {}).get("metrics") or []
    return {
        metric["name"].lower(): metric["label"]
        for metric in (metrics if isinstance(metrics, list) else [])
        if isinstance(metric, dict)
        and isinstance(metric.get("name"), str)
        and isinstance(metric.get("label"), str)
    }


def _is_count(column: Column, kinds: dict[str, str]) -> bool:
    """A whole number named like a plural noun (orders, customers) reads as "15,230 orders"."""
    return (
        column.role == MEASURE
        and kinds.get(column.name) == "number"
        and is_integer(column.type)
        and bool(re.fullmatch(r"[a-z_]*[a-z]s", column.name.lower()))
    )


_GRAINS = ("year", "yr", "quarter", "qtr", "month", "week", "day", "hour")


def _grain_rank(column: Column) -> int:
    """Full dates first, then year, quarter, month ... by the period word in the column name."""
    if column.role == TEMPORAL:
        return -1
    name = column.name.lower()
    return next((rank for rank, grain in enumerate(_GRAINS) if grain in name), len(_GRAINS))


def format_value(value: Any, kind: str = "number") -> str:
    """A cell as a sentence shows it: 1,234.50 (currency), 12.5% (percent of a fraction), 1,234 (count)."""
    if value is None:
        return "no value"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _safe(str(value))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if kind == "percent":
        return f"{value * 100:,.1f}%"
    currency = settings.PRESENTATION_CURRENCY
    if kind == "currency":
        text = f"{value:,.2f}"
        return f"{text} {currency}" if currency else text
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4f}".rstrip("0").rstrip(".")


def _safe(text: str) -> str:
    """Values go into the template text; braces in them must not become placeholders."""
    return text.replace("{", "(").replace("}", ")")


def _rows_phrase(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


# --- the sentence -----------------------------------------------------------------------------------


def summarize(data: dict[str, Any], semantic_context: dict[str, Any] | None = None) -> list[str]:
    """Template sentences with the result's key figures (before the grounding check): a single row is
    stated whole; otherwise what the first measure does, then how many rows there are."""
    rows = data["rows"]
    columns = describe_columns(data)
    if not rows:
        return ["The query returned no rows."]
    wording = _Wording.of(rows, columns, semantic_context)
    if len(rows) == 1:
        return [_one_row_sentence(wording, rows[0])]
    shown_note = " among the rows shown" if data.get("truncated") else ""
    return [*_figure_sentences(wording, rows, shown_note), _rows_sentence(data)]


@dataclass(frozen=True)
class _Wording:
    """How the result's columns and cells read mid-sentence, worked out once for every sentence."""

    columns: list[Column]
    kinds: dict[str, str]  # measure name -> "number", "currency" or "percent"
    units: dict[int, str | None]  # index of a date column -> its calendar step
    labels: dict[str, str]  # metric name -> its label in the semantic layer

    @classmethod
    def of(
        cls, rows: list[list[Any]], columns: list[Column], semantic_context: dict[str, Any] | None
    ) -> _Wording:
        """The formats, date steps and labels of ``columns``, from the rows and the semantic layer."""
        formats = _metric_formats(semantic_context)
        kinds = {
            c.name: _value_kind(c, [r[i] for r in rows if isinstance(r[i], int | float)], formats)
            for i, c in enumerate(columns)
            if c.role == MEASURE
        }
        # Dates read at their calendar step: a monthly series says 2025-02, not 2025-02-01T00:00:00.
        units = {i: time_unit([r[i] for r in rows]) for i, c in enumerate(columns) if c.role == TEMPORAL}
        return cls(columns, kinds, units, _metric_labels(semantic_context))

    def label(self, column: Column) -> str:
        """A column's name as a sentence says it: the metric's label, else the name in words."""
        if column.name.lower() in self.labels:
            text = self.labels[column.name.lower()]
            # Mid-sentence: "Return rate" → "return rate", but "AOV" stays.
            return _safe(text[:1].lower() + text[1:] if text[1:2].islower() else text)
        return _safe(
            humanize(column.name).lower() if column.name.islower() else column.name.replace("_", " ")
        )

    def show(self, index: int, row: list[Any]) -> str:
        """One cell as a sentence says it: periods named, ids bare, dates at their step, numbers formatted."""
        column, value = self.columns[index], row[index]
        if column.role == PERIOD and value is not None:
            return f"{self.label(column)} {value}"  # quarter 3, year 2024
        if column.role != MEASURE and isinstance(value, int):
            return str(value)  # an id, not an amount: no thousands separator
        if index in self.units and value is not None:
            return _safe(format_date(value, self.units[index]))
        return format_value(value, self.kinds.get(column.name, "number"))

    def joined(self, row: list[Any], indices: list[int], separator: str) -> str:
        """Several cells of a row read as one: "year 2024 quarter 3", "Europe / Phones"."""
        return separator.join(self.show(i, row) for i in indices)


@dataclass(frozen=True)
class _Figure:
    """The measure a summary is about: its column, the rows that have a value, its highest and lowest."""

    index: int
    present: list[list[Any]]
    high: list[Any]
    low: list[Any]


def _one_row_sentence(wording: _Wording, row: list[Any]) -> str:
    """A single row is stated whole: one value as the answer, a wider row as its first six cells."""
    columns = wording.columns
    if len(columns) == 1 and row[0] is None:
        return f"The query returned no value for {wording.label(columns[0])}."
    if len(columns) == 1 and _is_count(columns[0], wording.kinds):
        return f"The answer is {wording.show(0, row)} {wording.label(columns[0])}."  # 15,230 orders
    if len(columns) == 1:
        return f"The {wording.label(columns[0])} is {wording.show(0, row)}."
    parts = [f"{wording.label(columns[i])} {wording.show(i, row)}" for i in range(min(len(columns), 6))]
    return "The result has one row: " + ", ".join(parts) + "."


def _figure_sentences(wording: _Wording, rows: list[list[Any]], shown_note: str) -> list[str]:
    """What the first measure with a value does: over time, across categories, or its range alone."""
    columns = wording.columns
    measures = [i for i, c in enumerate(columns) if c.role == MEASURE and any(r[i] is not None for r in rows)]
    if not measures:
        return []
    m = measures[0]
    present = [r for r in rows if r[m] is not None]
    figure = _Figure(m, present, high=max(present, key=lambda r: r[m]), low=min(present, key=lambda r: r[m]))
    times = [i for i, c in enumerate(columns) if c.role in (TEMPORAL, PERIOD)]
    categories = [i for i, c in enumerate(columns) if c.role == CATEGORY]
    if figure.high[m] == figure.low[m] and len(present) > 1:
        measure = wording.label(columns[m])
        return [f"Every row has the same {measure}: {wording.show(m, figure.high)}{shown_note}."]
    if times:
        return _series_sentences(wording, figure, times, shown_note)
    if categories:
        return _ranking_sentences(wording, figure, categories, shown_note)
    return [_ranges_sentence(wording, rows, measures[:2], shown_note)]


def _series_sentences(wording: _Wording, figure: _Figure, times: list[int], shown_note: str) -> list[str]:
    """A measure over time: the span the rows cover, and when it was highest and lowest."""
    columns, m = wording.columns, figure.index
    # Coarser periods first, so "year 2024 quarter 3" sorts and reads in calendar order.
    when = sorted(times, key=lambda i: _grain_rank(columns[i]))[:2]
    dated = [r for r in figure.present if all(r[i] is not None for i in when)]
    if not dated:
        return []
    ordered = sorted(
        dated, key=lambda r: tuple(str(r[i]) if columns[i].role == TEMPORAL else r[i] for i in when)
    )
    measure = humanize(wording.label(columns[m]))
    high, low = figure.high, figure.low
    return [
        f"{measure} from {wording.joined(ordered[0], when, ' ')} to {wording.joined(ordered[-1], when, ' ')}: "
        f"highest {wording.show(m, high)} at {wording.joined(high, when, ' ')}, "
        f"lowest {wording.show(m, low)} at {wording.joined(low, when, ' ')}{shown_note}."
    ]


def _ranking_sentences(
    wording: _Wording, figure: _Figure, categories: list[int], shown_note: str
) -> list[str]:
    """A measure per category: which has the most and which the least; a shared top is said, not hidden."""
    columns, m, high, low = wording.columns, figure.index, figure.high, figure.low
    # A name reads better than its id; the first two name a row ("Europe / Phones").
    names = [i for i in categories if not re.search(r"(^id$|_id$)", columns[i].name)] or categories
    who = names[:2]
    most, least = ("most", "fewest") if _is_count(columns[m], wording.kinds) else ("highest", "lowest")
    ties = " ties for" if sum(r[m] == high[m] for r in figure.present) > 1 else " has"
    measure = wording.label(columns[m])
    return [
        f"{wording.joined(high, who, ' / ')}{ties} the {most} {measure} ({wording.show(m, high)}){shown_note}.",
        f"The {least} is {wording.joined(low, who, ' / ')} ({wording.show(m, low)}).",
    ]


def _ranges_sentence(wording: _Wording, rows: list[list[Any]], measures: list[int], shown_note: str) -> str:
    """Measures with nothing to place or group them by: where each of them starts and ends."""
    ranges = []
    for index in measures:
        values = [r for r in rows if r[index] is not None]
        smallest = min(values, key=itemgetter(index))
        largest = max(values, key=itemgetter(index))
        ranges.append(
            f"{wording.label(wording.columns[index])} ranges from {wording.show(index, smallest)} "
            f"to {wording.show(index, largest)}"
        )
    return f"The {' and the '.join(ranges)}{shown_note}."


def _rows_sentence(data: dict[str, Any]) -> str:
    """How many rows the result has, and whether it was cut at the row cap."""
    shown = len(data["rows"])
    total = data.get("row_count", shown)
    if not data.get("truncated"):
        return f"The result has {_rows_phrase(shown)}."
    if isinstance(total, int) and total > shown:
        return f"Showing the first {_rows_phrase(shown)} of {total:,}."
    return f"Showing the first {_rows_phrase(shown)}; the result was cut there."


def grounded_sentences(data: dict[str, Any], semantic_context: dict[str, Any] | None = None) -> str:
    """The summary, keeping only sentences whose numbers all come from the result."""
    kept = []
    for sentence in summarize(data, semantic_context):
        try:
            assert_numbers_grounded(sentence, data)
        except UngroundedNumberError:
            continue  # never state a number we cannot point to in the result
        kept.append(sentence)
    return " ".join(kept) or "Here is the result."


# --- the response -----------------------------------------------------------------------------------


def compose_response(state: AnswerState) -> str:
    """The template text of the answer, with placeholders for what the question asks for."""
    wants = set(state.wants) or wanted_placeholders(state.ask)
    intent = state.intent or DATA
    blocks: list[str] = []

    if intent == UNANSWERABLE:
        blocks.append(CANNOT_ANSWER + (f" {state.refusal}" if state.refusal else ""))
        if state.catalog:
            blocks += ["Here is the data I can answer questions about.", "{catalog}"]
        return "\n\n".join(blocks)

    if intent == CATALOG:
        if state.catalog is None:
            return "There is no data I can answer questions about in this scope yet."
        return "Here are the tables and data you can ask about.\n\n{catalog}"

    if intent == DEFINITION:
        if state.semantic_context:
            blocks += ["Here is how it is defined in the semantic layer.", "{semantic_context}"]
        else:
            blocks.append("There is no definition for that in the semantic layer.")
        if "sql" in wants and state.sql:
            blocks += ["This is the query it is calculated with.", "{sql}"]
        return "\n\n".join(blocks)

    if state.data is None:
        return "I could not get a result for that question."
    blocks.append(grounded_sentences(state.data, state.semantic_context))
    if "sql" in wants and state.sql:
        blocks += ["Here is the query.", "{sql}"]
    show_table = True
    if "chart_spec" in wants:
        if state.chart_spec:
            blocks += ["Here is the chart.", "{chart_spec}"]
            # "data" in wants may just mean "a data answer"; only the question's own words ask for a table.
            asked_for_table = "data" in wanted_placeholders(state.ask)
            show_table = asked_for_table or len(state.data["rows"]) <= CHART_TABLE_MAX_ROWS
        elif state.data["rows"]:
            blocks.append("A chart would not help with this result, so here is the table.")
    if show_table and state.data["rows"]:
        blocks.append("{data}")
    if "semantic_context" in wants and state.semantic_context:
        blocks.append("{semantic_context}")
    return "\n\n".join(blocks)


def chart_for(state: AnswerState, hint: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The chart spec for a data answer, or None when no chart was asked for or none would help."""
    wants = set(state.wants) or wanted_placeholders(state.ask)
    if (state.intent or DATA) != DATA or "chart_spec" not in wants or not state.data:
        return None
    choice = choose_chart(state.ask, state.data, hint)
    if choice is None:
        return None
    title = f"{humanize(choice.y)} by {humanize(choice.x).lower()}"
    max_rows = settings.PRESENTATION_CHART_MAX_ROWS
    try:
        return build_chart_spec(choice, state.data, title=title, max_rows=max_rows)
    except (ValueError, TypeError, SchemaValidationError):
        # A chart is a bonus: the answer still goes out with its sentence and table.
        logger.exception("chart for message %s could not be built", state.message_uuid)
        return None


def present(state: AnswerState, hint: dict[str, Any] | None = None) -> None:
    """Fill ``state.chart_spec`` (when asked and useful) and ``state.response``."""
    state.chart_spec = chart_for(state, hint)
    state.response = compose_response(state)
