"""The shape of a semantic query, validated before any name is looked up.

``{metrics, dimensions, filters: [{field, op, value}], time_grain, time_range: {start, end},
order_by: [{field, direction}], limit, time_dimension, per, aggregate}``; ``time_range`` is inclusive at
both ends. ``per`` and ``aggregate`` ask for an aggregate of per-entity totals: each metric is first
computed per row of the ``per`` table (revenue per customer), then aggregated across those rows (the
median of it), so "average revenue per sales rep, by region" is ``{"metrics": ["revenue"],
"dimensions": ["region"], "per": "sales_reps", "aggregate": "avg"}``. ``share`` gives each value as a
fraction of the total over the same period without the breakdown or the dimension filters ("what share
of revenue comes from Electronics"); ``growth: {"from": "2023", "to": "2024"}`` the change between two
periods as a fraction; ``ratio`` divides the first of two metrics by the second ("the ratio of cancelled
to completed orders"); ``percent`` multiplies any of them by 100, or else the metrics themselves (a rate).
``without`` keeps the rows that have no related rows in another table, within the filters on that side:
"customers who placed no orders in 2025" is ``{"metrics": ["customers"], "without": "orders",
"time_range": "2025"}``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from semantic.models import DATE_PARTS, TIME_GRAINS

OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "in", "not in", "between", "like"]
OPERATOR_ALIASES = {
    "==": "=",
    "<>": "!=",
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
}
QUERY_KEYS = {
    "metrics",
    "dimensions",
    "filters",
    "time_grain",
    "time_range",
    "order_by",
    "limit",
    "time_dimension",
    "per",
    "aggregate",
    "share",
    "growth",
    "ratio",
    "percent",
    "without",
}
# How per-entity totals are aggregated: pNN is the NNth percentile, "count" the number of entities.
AGGREGATES = ["avg", "median", "min", "max", "sum", "count"]
_PERCENTILE_AGGREGATE = re.compile(r"^p([1-9][0-9]?)$")


def is_aggregate(name: str) -> bool:
    """Whether ``name`` is an aggregate a semantic query may ask for.

    >>> [is_aggregate(a) for a in ("median", "p90", "p100", "mode")]
    [True, True, False, False]
    """
    return name in AGGREGATES or bool(_PERCENTILE_AGGREGATE.match(name))


def percentile_share(name: str) -> float | None:
    """The fraction a percentile aggregate names: ``percentile_share("p90")`` is 0.9, "median" 0.5.

    >>> percentile_share("p25"), percentile_share("median"), percentile_share("avg")
    (0.25, 0.5, None)
    """
    if name == "median":
        return 0.5
    match = _PERCENTILE_AGGREGATE.match(name)
    return int(match.group(1)) / 100 if match else None


class SemanticError(ValueError):
    """A semantic query cannot be compiled; the message names what was wrong."""


@dataclass
class Filter:
    field: str
    op: str
    value: Any


@dataclass
class OrderBy:
    field: str
    direction: str = "asc"


@dataclass
class TimeRange:
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive


def _string_list(data: dict, key: str) -> list[str]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SemanticError(f"'{key}' must be a list of names, got {value!r}")
    return list(dict.fromkeys(value))


def _parse_filter(item: Any, index: int) -> Filter:
    if not isinstance(item, dict) or not {"field", "op"} <= set(item) or set(item) - {"field", "op", "value"}:
        raise SemanticError(
            f"filters[{index}] must be an object with 'field', 'op' and 'value', got {item!r}"
        )
    op = str(item["op"]).strip().lower()
    op = OPERATOR_ALIASES.get(op, op)
    if op not in OPERATORS:
        raise SemanticError(
            f"filters[{index}]: unknown operator {item['op']!r}; valid operators: {', '.join(OPERATORS)}"
        )
    value = item.get("value")
    if op in ("in", "not in"):
        if isinstance(value, (str, int, float)):
            value = [value]
        if not isinstance(value, list) or not value:
            raise SemanticError(f"filters[{index}]: '{op}' needs a non-empty list of values, got {value!r}")
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise SemanticError(
                f"filters[{index}]: 'between' needs a list of two values [low, high], got {value!r}"
            )
    elif isinstance(value, (list, dict)):
        raise SemanticError(f"filters[{index}]: '{op}' needs a single value, got {value!r}")
    if not isinstance(item["field"], str) or not item["field"]:
        raise SemanticError(f"filters[{index}]: 'field' must be a metric or dimension name")
    return Filter(field=item["field"], op=op, value=value)


def _parse_date(value: Any, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SemanticError(f"{where} must be a date like 2024-01-31, got {value!r}") from None


_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-Q(?P<quarter>[1-4])|-(?P<month>0[1-9]|1[0-2]))?$")


def period_range(text: str) -> dict[str, str]:
    """A named period as an inclusive range: "2024", "2024-Q2" or "2024-03"."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise SemanticError(
            f"time_range {text!r} is not a period like 2024, 2024-Q2 or 2024-03, nor an object with start and end"
        )
    year = int(match["year"])
    if match["quarter"]:
        first_month = 3 * (int(match["quarter"]) - 1) + 1
        start, months = dt.date(year, first_month, 1), 3
    elif match["month"]:
        start, months = dt.date(year, int(match["month"]), 1), 1
    else:
        start, months = dt.date(year, 1, 1), 12
    following = start.month - 1 + months
    end = dt.date(year + following // 12, following % 12 + 1, 1) - dt.timedelta(days=1)
    return {"start": start.isoformat(), "end": end.isoformat()}


def _parse_order(item: Any, index: int) -> OrderBy:
    if isinstance(item, str):
        return OrderBy(field=item.lstrip("-"), direction="desc" if item.startswith("-") else "asc")
    if not isinstance(item, dict) or "field" not in item or set(item) - {"field", "direction"}:
        raise SemanticError(f"order_by[{index}] must be an object with 'field' and 'direction', got {item!r}")
    direction = str(item.get("direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise SemanticError(
            f"order_by[{index}]: direction must be 'asc' or 'desc', got {item.get('direction')!r}"
        )
    return OrderBy(field=str(item["field"]), direction=direction)


@dataclass
class Growth:
    """Two periods, each inclusive at both ends, and the names they were given ("2023")."""

    before: TimeRange
    after: TimeRange
    labels: tuple[str, str] = ("before", "after")
    given: dict[str, Any] = field(default_factory=dict)  # as the query said it, for to_dict


def _flag(data: dict, key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool) and value is not None:
        raise SemanticError(f"'{key}' must be true or false, got {value!r}")
    return bool(value)


def _parse_period(value: Any, where: str) -> tuple[TimeRange, str]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        bounds, label = period_range(str(value)), str(value)
    elif isinstance(value, dict) and set(value) == {"start", "end"}:
        bounds, label = value, f"{str(value['start'])[:10]}_to_{str(value['end'])[:10]}"
    else:
        raise SemanticError(
            f"{where} must be a period like 2024 or an object with start and end, got {value!r}"
        )
    start, end = _parse_date(bounds["start"], f"{where}.start"), _parse_date(bounds["end"], f"{where}.end")
    if not start or not end or start > end:
        raise SemanticError(f"{where} needs a start on or before its end, got {value!r}")
    return TimeRange(start, end), label.replace("-", "_").lower()


def parse_growth(value: Any) -> Growth | None:
    """The ``growth`` part of a query: ``{"from": "2023", "to": "2024"}`` (periods or start and end)."""
    if value in (None, {}):
        return None
    if not isinstance(value, dict) or set(value) != {"from", "to"}:
        raise SemanticError(f"'growth' must be an object with 'from' and 'to' periods, got {value!r}")
    before, before_label = _parse_period(value["from"], "growth.from")
    after, after_label = _parse_period(value["to"], "growth.to")
    if before_label == after_label:
        before_label, after_label = "before", "after"
    return Growth(before, after, (before_label, after_label), {"from": value["from"], "to": value["to"]})


def _parse_per_entity(data: dict) -> tuple[str | None, list[str]]:
    per = data.get("per")
    if per is not None and (not isinstance(per, str) or not per):
        raise SemanticError("'per' must be the name of a table, such as customers")
    aggregate = [str(a).lower() for a in _string_list(data, "aggregate")]
    bad = [a for a in aggregate if not is_aggregate(a)]
    if bad:
        raise SemanticError(
            f"Unknown aggregate(s) {', '.join(bad)}; valid: {', '.join(AGGREGATES)} or pNN for a percentile (p90)"
        )
    if per and not aggregate:
        raise SemanticError("'per' needs an 'aggregate' (avg, median, p90, ...) to apply across the totals")
    return per or None, aggregate


@dataclass
class SemanticQuery:
    metrics: list[str] = field(default_factory=list)
    dimensions: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    time_grain: str | None = None
    time_range: TimeRange | None = None
    order_by: list[OrderBy] = field(default_factory=list)
    limit: int | None = None
    time_dimension: str | None = None  # which time dimension time_range/time_grain mean, when ambiguous
    per: str | None = None  # the table whose rows each metric is totalled for, before ``aggregate``
    aggregate: list[str] = field(default_factory=list)  # how those totals are aggregated
    share: bool = False  # each value as a fraction of the total
    ratio: bool = False  # the first metric divided by the second
    growth: Growth | None = None  # the change from one period to another, as a fraction
    percent: bool = False  # share or growth times 100
    without: str | None = None  # a table none of whose related rows (within the filters) may exist

    @classmethod
    def from_dict(cls, data: Any) -> SemanticQuery:
        """Validate the shape of a semantic query (names are checked later, against a source)."""
        if not isinstance(data, dict):
            raise SemanticError(f"A semantic query must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - QUERY_KEYS)
        if unknown:
            raise SemanticError(
                f"Unknown key(s) in semantic query: {', '.join(unknown)}; valid keys: {', '.join(sorted(QUERY_KEYS))}"
            )
        query = cls(metrics=_string_list(data, "metrics"), dimensions=_string_list(data, "dimensions"))
        if not query.metrics and not query.dimensions:
            raise SemanticError("A semantic query needs at least one metric or dimension")
        filters = data.get("filters") or []
        if not isinstance(filters, list):
            raise SemanticError("'filters' must be a list")
        query.filters = [_parse_filter(item, index) for index, item in enumerate(filters)]
        grain = data.get("time_grain")
        if grain is not None:
            grain = str(grain).lower()
            if grain not in TIME_GRAINS + DATE_PARTS:
                raise SemanticError(
                    f"Unknown time_grain {data['time_grain']!r}; valid grains: {', '.join(TIME_GRAINS + DATE_PARTS)}"
                )
        query.time_grain = grain
        time_range = data.get("time_range")
        if isinstance(time_range, (str, int)) and not isinstance(time_range, bool):
            time_range = period_range(str(time_range))
        if time_range is not None:
            if not isinstance(time_range, dict) or set(time_range) - {"start", "end"}:
                raise SemanticError(
                    f"'time_range' must be an object with 'start' and/or 'end', got {time_range!r}"
                )
            start = _parse_date(time_range.get("start"), "time_range.start")
            end = _parse_date(time_range.get("end"), "time_range.end")
            if start and end and start > end:
                raise SemanticError(f"time_range.start {start} is after time_range.end {end}")
            query.time_range = TimeRange(start, end) if start or end else None
        order_by = data.get("order_by") or []
        if isinstance(order_by, (str, dict)):
            order_by = [order_by]
        if not isinstance(order_by, list):
            raise SemanticError("'order_by' must be a list")
        query.order_by = [_parse_order(item, index) for index, item in enumerate(order_by)]
        limit = data.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise SemanticError(f"'limit' must be a positive whole number, got {limit!r}")
        query.limit = limit
        time_dimension = data.get("time_dimension")
        if time_dimension is not None and not isinstance(time_dimension, str):
            raise SemanticError("'time_dimension' must be a dimension name")
        query.time_dimension = time_dimension or None
        query.per, query.aggregate = _parse_per_entity(data)
        query.share, query.percent = _flag(data, "share"), _flag(data, "percent")
        query.ratio = _flag(data, "ratio")
        query.growth = parse_growth(data.get("growth"))
        if [bool(query.aggregate), query.share, query.growth is not None, query.ratio].count(True) > 1:
            raise SemanticError("Use one of 'aggregate', 'share', 'growth' and 'ratio' in a query")
        if query.ratio and len(query.metrics) != 2:
            raise SemanticError("'ratio' divides the first of two metrics by the second: name exactly two")
        if query.percent and query.aggregate:
            raise SemanticError(
                "'percent' applies to metrics, a 'share' or a 'growth', not to an 'aggregate'"
            )
        if query.growth and (query.time_range or query.time_grain):
            raise SemanticError("'growth' names its own periods: leave out time_range and time_grain")
        without = data.get("without")
        if without is not None and (not isinstance(without, str) or not without):
            raise SemanticError("'without' must be the name of a table, such as orders")
        query.without = without or None
        if query.without and (query.aggregate or query.share or query.growth or query.ratio):
            raise SemanticError(
                "'without' counts or lists rows with no related rows: leave out aggregate, share, growth and ratio"
            )
        return query

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.time_range:
            data["time_range"] = _range_dict(self.time_range)
        if self.growth:
            data["growth"] = dict(self.growth.given)
        return data


def _range_dict(time_range: TimeRange) -> dict[str, str | None]:
    return {key: value.isoformat() if value else None for key, value in asdict(time_range).items()}
