"""The shape of a semantic query, validated before any name is looked up.

``{metrics, dimensions, filters: [{field, op, value}], time_grain, time_range: {start, end},
order_by: [{field, direction}], limit, time_dimension}``; ``time_range`` is inclusive at both ends.
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
}


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
class SemanticQuery:
    metrics: list[str] = field(default_factory=list)
    dimensions: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    time_grain: str | None = None
    time_range: TimeRange | None = None
    order_by: list[OrderBy] = field(default_factory=list)
    limit: int | None = None
    time_dimension: str | None = None  # which time dimension time_range/time_grain mean, when ambiguous

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
        return query

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.time_range:
            data["time_range"] = {
                key: value.isoformat() if value else None for key, value in asdict(self.time_range).items()
            }
        return data
