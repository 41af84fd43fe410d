"""Questions a newcomer can ask a source, built from its semantic layer (or, without one, its catalog), each
checked to compile and run before it is shown.

Kinds, taken in turn so the list shows a bit of everything: a metric by a dimension (``breakdown``), a
trend over a time dimension (``trend``), a top N (``top``), a filter on a value the profile found
(``filter``). With a semantic layer each question is a semantic query compiled by
``semantic.compiler.compile_to_sql``; without one, each is a sqlglot AST over the catalog's tables. Either
way the SQL goes through the guard and runs on the read-only connection; one that fails or finds no
row is not shown.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from catalog.column_types import is_number, is_temporal, is_text
from catalog.execution import QueryError, run_query, table_reference
from catalog.guard import GuardError, check_sql
from catalog.models import Column, DataSource, Relationship, Table
from semantic.compiler import SemanticError, SemanticModel, compile_to_sql
from semantic.models import Dimension, Metric

MAX_SUGGESTIONS = 8
MAX_BREAKDOWN_VALUES = 12  # a breakdown by more groups than this reads as a list, not an overview
TOP_N = 5
KINDS = ("breakdown", "trend", "top", "filter")
_ID_NAME = re.compile(r"(^id$|_id$|^id_|id$)", re.IGNORECASE)
_YEAR_NAME = re.compile(r"(^|_)(year|yr)$", re.IGNORECASE)


@dataclass
class Suggestion:
    question: str
    kind: str
    sql: str
    row_count: int
    semantic_query: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Candidate:
    question: str
    kind: str
    semantic_query: dict[str, Any] | None = None
    select: exp.Expression | None = None


def suggest(
    source: DataSource, tables: list[str] | None = None, limit: int = MAX_SUGGESTIONS
) -> list[Suggestion]:
    """Up to ``limit`` checked questions about ``source`` (only its ``tables`` when given)."""
    model = SemanticModel(source, tables)
    visible = _visible_columns(source, model.tables)
    candidates = _semantic_candidates(model) if model.metrics else _catalog_candidates(source, model.tables)
    chosen: list[Suggestion] = []
    seen: set[str] = set()
    for candidate in _interleaved(candidates):
        if len(chosen) >= limit:
            break
        if candidate.question in seen:
            continue
        checked = _check(source, candidate, tables, visible)
        if checked is not None:
            seen.add(candidate.question)
            chosen.append(checked)
    return chosen


def _visible_columns(source: DataSource, tables: set[str]) -> dict[str, list[str]]:
    rows = Table.objects.filter(source=source, enabled=True, name__in=tables).prefetch_related("columns")
    return {t.name: [c.name for c in t.columns.all()] for t in rows}


def _check(
    source: DataSource, candidate: _Candidate, tables: list[str] | None, visible: dict[str, list[str]]
) -> Suggestion | None:
    try:
        if candidate.semantic_query is not None:
            sql = compile_to_sql(source, candidate.semantic_query, tables)
        else:
            assert candidate.select is not None  # a candidate has a semantic query or a SELECT
            sql = candidate.select.sql("duckdb")
        guarded = check_sql(sql, allowed_tables=visible)
        result = run_query(source, guarded.sql, row_cap=50, timeout_s=5)
    except (SemanticError, GuardError, QueryError, sqlglot.errors.SqlglotError):
        return None
    if not result.rows or all(value is None for row in result.rows for value in row):
        return None
    return Suggestion(candidate.question, candidate.kind, sql, result.row_count, candidate.semantic_query)


def _interleaved(candidates: list[_Candidate]) -> list[_Candidate]:
    """One of each kind in turn (breakdown, trend, top, filter, breakdown, ...), each kind in its order."""
    queues = {kind: [c for c in candidates if c.kind == kind] for kind in KINDS}
    ordered: list[_Candidate] = []
    while any(queues.values()):
        for kind in KINDS:
            if queues[kind]:
                ordered.append(queues[kind].pop(0))
    return ordered


# --- with a semantic layer -------------------------------------------------------------------------


def _label(row: Metric | Dimension) -> str:
    return (row.label or row.name.replace("_", " ")).strip()


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def plural(noun: str) -> str:
    """Good enough for labels: product → products, category → categories, sales rep → sales reps.

    >>> [plural(w) for w in ["product", "category", "sales rep", "address", "countries"]]
    ['products', 'categories', 'sales reps', 'addresses', 'countries']
    """
    lower = noun.lower()
    if lower.endswith(("data", "info", "information")):
        return noun
    if lower.endswith("s") and not lower.endswith(("ss", "us")):
        return noun
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _latest_year(column: Column | None) -> int | None:
    """The last year with data, from the column's profiled maximum."""
    top = (column.profile or {}).get("max") if column is not None else None
    match = re.match(r"^(\d{4})-", str(top or ""))
    return int(match.group(1)) if match else None


def _semantic_candidates(model: SemanticModel) -> list[_Candidate]:
    metrics = sorted(model.metrics.values(), key=lambda m: m.id)
    dimensions = sorted(model.dimensions.values(), key=lambda d: d.id)
    columns = {d.name: model.catalog_column(d) for d in dimensions}
    categorical = [d for d in dimensions if d.kind == Dimension.Kind.CATEGORICAL]

    def profile(dimension: Dimension) -> dict[str, Any]:
        column = columns[dimension.name]
        return (column.profile or {}) if column is not None else {}

    def distinct(dimension: Dimension) -> int:
        return profile(dimension).get("distinct_count") or 0

    few = [d for d in categorical if 0 < distinct(d) <= MAX_BREAKDOWN_VALUES]
    many = [d for d in categorical if distinct(d) > TOP_N and d not in few]
    valued = [d for d in few if profile(d).get("distinct_values")]
    times = [d for d in dimensions if d.kind == Dimension.Kind.TIME]

    candidates: list[_Candidate] = []
    # The i-th question of a kind is about the i-th metric with the i-th fitting dimension, so the list
    # shows different metrics and dimensions rather than one metric every way.
    for index, metric in enumerate(metrics):
        label = _label(metric)
        if few:
            dimension = few[index % len(few)]
            candidates.append(
                _Candidate(
                    f"{label} by {_lower(_label(dimension))}",
                    "breakdown",
                    {"metrics": [metric.name], "dimensions": [dimension.name]},
                )
            )
        own_time = [d for d in times if d.name == metric.time_dimension] or times[:1]
        for dimension in own_time:
            year = _latest_year(columns[dimension.name])
            if "month" not in (dimension.time_grains or []) or year is None:
                continue
            candidates.append(
                _Candidate(
                    f"Plot the monthly {_lower(label)} of {year}",
                    "trend",
                    {
                        "metrics": [metric.name],
                        "dimensions": [dimension.name],
                        "time_grain": "month",
                        "time_range": str(year),
                    },
                )
            )
        if many:
            dimension = many[index % len(many)]
            candidates.append(
                _Candidate(
                    f"Top {TOP_N} {_lower(plural(_label(dimension)))} by {_lower(label)}",
                    "top",
                    {
                        "metrics": [metric.name],
                        "dimensions": [dimension.name],
                        "order_by": [{"field": metric.name, "direction": "desc"}],
                        "limit": TOP_N,
                    },
                )
            )
        if valued:
            dimension = valued[index % len(valued)]
            values = profile(dimension)["distinct_values"]
            value = values[index % len(values)]
            candidates.append(
                _Candidate(
                    f"{label} where {_lower(_label(dimension))} is {value}",
                    "filter",
                    {
                        "metrics": [metric.name],
                        "filters": [{"field": dimension.name, "op": "=", "value": value}],
                    },
                )
            )
    return candidates


# --- from the catalog alone ------------------------------------------------------------------------


def _words(name: str) -> str:
    return name.replace("_", " ")


def _catalog_candidates(source: DataSource, tables: set[str]) -> list[_Candidate]:
    rows = Table.objects.filter(source=source, enabled=True, name__in=tables).prefetch_related("columns")
    ordered = sorted(rows, key=lambda t: (-(t.row_count or 0), t.name))
    # Keys and the columns that join tables are identifiers, neither groups nor amounts.
    joining = set(
        Relationship.objects.filter(from_column__table__source=source).values_list(
            "from_column_id", flat=True
        )
    ) | set(
        Relationship.objects.filter(to_column__table__source=source).values_list("to_column_id", flat=True)
    )
    candidates: list[_Candidate] = []
    for table in ordered:
        columns = [c for c in table.columns.all() if not c.is_primary_key and c.id not in joining]
        categories = [c for c in columns if _is_category(c, table)]
        measures = [c for c in columns if is_number(c.data_type) and not _ID_NAME.search(c.name)
                    and not _YEAR_NAME.search(c.name) and (c.profile or {}).get("distinct_count", 0) > 1]  # fmt: skip
        labels = [c for c in columns if is_text(c.data_type) and _is_label(c, table)]
        times = [
            c
            for c in columns
            if is_temporal(c.data_type) or (is_number(c.data_type) and _YEAR_NAME.search(c.name))
        ]
        things = plural(_words(table.name))
        source_table = table_reference(table.name)
        count = exp.alias_(exp.func("count", exp.Star()), "count")
        for category in categories:
            ref = exp.column(category.name, quoted=True)
            candidates.append(
                _Candidate(
                    f"How many {things} are there per {_words(category.name)}?",
                    "breakdown",
                    select=exp.select(ref, count)
                    .from_(source_table)
                    .group_by(ref)
                    .order_by(exp.column("count").desc()),
                )
            )
            for measure in measures[:1]:
                value = exp.column(measure.name, quoted=True)
                average = exp.alias_(exp.func("avg", value), f"average_{measure.name}")
                candidates.append(
                    _Candidate(
                        f"What is the average {_words(measure.name)} per {_words(category.name)}?",
                        "breakdown",
                        select=exp.select(ref, average).from_(source_table).group_by(ref),
                    )
                )
        for time in times:
            ref = exp.column(time.name, quoted=True)
            period = ref if not is_temporal(time.data_type) else exp.Year(this=ref)
            candidates.append(
                _Candidate(
                    f"How many {things} are there per {'year of ' if is_temporal(time.data_type) else ''}{_words(time.name)}?",
                    "trend",
                    select=exp.select(exp.alias_(period, "period"), count)
                    .from_(source_table)
                    .where(ref.is_(exp.null()).not_())
                    .group_by(period)
                    .order_by(exp.column("period")),
                )
            )
        for label in labels:
            for measure in measures:
                name, value = exp.column(label.name, quoted=True), exp.column(measure.name, quoted=True)
                candidates.append(
                    _Candidate(
                        f"Which {TOP_N} {things} have the highest {_words(measure.name)}?",
                        "top",
                        select=exp.select(name, value)
                        .from_(source_table)
                        .where(value.is_(exp.null()).not_())
                        .order_by(value.desc())
                        .limit(TOP_N),
                    )
                )
                break
        for category in categories:
            values = (category.profile or {}).get("distinct_values") or []
            if not values:
                continue
            ref = exp.column(category.name, quoted=True)
            candidates.append(
                _Candidate(
                    f"How many {things} have {_words(category.name)} {values[0]}?",
                    "filter",
                    select=exp.select(count)
                    .from_(source_table)
                    .where(exp.EQ(this=ref, expression=exp.convert(values[0]))),
                )
            )
    return candidates


def _is_category(column: Column, table: Table) -> bool:
    """A text column of a few values that repeat: something to group by."""
    distinct = (column.profile or {}).get("distinct_count", 0)
    return (
        is_text(column.data_type)
        and not _ID_NAME.search(column.name)
        and 1 < distinct <= MAX_BREAKDOWN_VALUES
        and distinct < (table.row_count or 0)
    )


def _is_label(column: Column, table: Table) -> bool:
    """A text column that names each row (nearly every value different), such as a name or a title."""
    distinct = (column.profile or {}).get("distinct_count", 0)
    row_count = table.row_count or 0
    return bool(row_count) and distinct >= max(2, 0.8 * row_count) and not _ID_NAME.search(column.name)


def cached_suggestions(source: DataSource, tables: list[str] | None = None) -> list[dict[str, Any]]:
    """``suggest`` as dicts, kept in the cache until the source is re-synced or its semantic layer edited."""
    from django.core.cache import cache
    from django.db.models import Count, Max

    stamps = [source.last_synced_at, source.updated_at]
    for model in (Metric, Dimension):
        summary = model.objects.filter(source=source).aggregate(n=Count("id"), last=Max("updated_at"))
        stamps += [summary["n"], summary["last"]]
    fingerprint = "|".join(map(str, [source.pk, *sorted(tables or []), *stamps]))
    key = "suggestions:" + hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    found = cache.get(key)
    if found is None:
        found = [s.as_dict() for s in suggest(source, tables)]
        cache.set(key, found, timeout=3600)
    return found
