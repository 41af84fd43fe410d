"""The semantic path: the model fills a semantic query under a JSON schema built from the source's own
semantic model, so it can only name metrics, dimensions, grains and (for low-cardinality dimensions)
filter values that exist. The semantic compiler turns the query into SQL.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from analytics_chat.llm.base import (
    CancelToken,
    GenerationOptions,
    GenerationResult,
    TextCallback,
    TextGenerator,
)
from analytics_chat.pipeline.state import Turn
from catalog.models import Column, DataSource
from semantic.compiler import OPERATORS, SemanticError, SemanticModel, SemanticQuery, compile_to_sql
from semantic.models import Dimension

from . import prompts
from .shape import QuestionShape, is_refinement, mentioned_year, question_shape

MAX_ENUM_VALUES = 60


@dataclass
class SemanticPlan:
    query: dict[str, Any]
    sql: str
    generation: GenerationResult


@dataclass
class SemanticVocabulary:
    """What the model may name on one source and scope, with the profiled values of each dimension."""

    model: SemanticModel
    values: dict[str, list[Any]]  # dimension name → its distinct values (low-cardinality columns only)
    time_span: tuple[str, str] | None  # first and last day of the data, for "last year" and the like

    @property
    def metric_names(self) -> list[str]:
        return list(self.model.metrics)

    @property
    def dimension_names(self) -> list[str]:
        return list(self.model.dimensions)


def _column_of(expression: str, default_table: str) -> tuple[str, str] | None:
    """'customers.country' → ('customers', 'country'); None for anything but a plain column."""
    try:
        node = sqlglot.parse_one(expression, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    if isinstance(node, exp.Column):
        return node.table or default_table, node.name
    return None


def vocabulary(source: DataSource, tables: list[str] | None = None) -> SemanticVocabulary:
    model = SemanticModel(source, tables)
    profiles = {
        (c.table.name, c.name): c.profile or {}
        for c in Column.objects.filter(table__source=source).select_related("table")
    }
    values: dict[str, list[Any]] = {}
    spans: list[tuple[str, str]] = []
    for name, dimension in model.dimensions.items():
        located = _column_of(dimension.expression, dimension.table)
        profile = profiles.get(located, {}) if located else {}
        if dimension.kind == Dimension.Kind.CATEGORICAL and profile.get("distinct_values"):
            distinct = profile["distinct_values"]
            if len(distinct) <= MAX_ENUM_VALUES:
                values[name] = distinct
        if dimension.kind == Dimension.Kind.TIME and profile.get("min") and profile.get("max"):
            spans.append((str(profile["min"])[:10], str(profile["max"])[:10]))
    time_span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
    return SemanticVocabulary(model=model, values=values, time_span=time_span)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def periods(time_span: tuple[str, str] | None) -> list[str]:
    """Years, quarters and months of the data, as the short forms a time_range may take ("2024-Q2")."""
    if not time_span:
        return []
    first, last = int(time_span[0][:4]), int(time_span[1][:4])
    if last - first > 30:  # decades of data: years only, or the enum outgrows the prompt
        return [str(year) for year in range(first, last + 1)]
    years = range(first, last + 1)
    return (
        [str(year) for year in years]
        + [f"{year}-Q{quarter}" for year in years for quarter in range(1, 5)]
        + [f"{year}-{month:02d}" for year in years for month in range(1, 13)]
    )


def value_mentions(question: str, vocab: SemanticVocabulary) -> list[tuple[str, Any]]:
    """Stored dimension values the question names (whole words, any case): (dimension, stored value)."""
    lowered = question.lower()
    found = []
    for name, values in vocab.values.items():
        for value in values:
            text = str(value).strip().lower()
            if len(text) < 2:
                continue
            # "laptop" names the stored "Laptops" and "desks" the stored "Desk"
            stem = text[:-1] if text.endswith("s") and len(text) > 3 else text
            if re.search(rf"(?<!\w){re.escape(stem)}s?(?!\w)", lowered):
                found.append((name, value))
    return found


def query_schema(
    vocab: SemanticVocabulary,
    shape: QuestionShape | None = None,
    follow_up: bool = False,
    mentions: list[tuple[str, Any]] | None = None,
    candidate_metrics: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON schema the model's output must satisfy; property order is the order the model writes.

    A fresh question is held to what its words support, since a small model otherwise groups and filters
    by whatever it sees: no dimensions, grain, ordering or limit without words for a breakdown
    (``shape.breakdown``), no time range without words for a period, filters only on the stored values
    it names (``mentions``), and only the metrics retrieval found for it (``candidate_metrics``). A
    follow-up may use everything, since it rewrites a previous query.
    """
    metrics = vocab.metric_names
    filter_values = vocab.values
    if not follow_up:
        if candidate_metrics:
            metrics = [m for m in metrics if m in candidate_metrics] or metrics
        if mentions is not None:
            filter_values = {}
            for name, value in mentions:
                filter_values.setdefault(name, []).append(value)
    dimensions = vocab.dimension_names
    fields = metrics + dimensions
    filter_options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "field": {"const": name},
                "op": {"enum": ["=", "!=", "in"]},
                "value": {
                    "anyOf": [
                        {"enum": values},
                        {"type": "array", "items": {"enum": values}, "minItems": 1, "maxItems": 5},
                    ]
                },
            },
            "required": ["field", "op", "value"],
        }
        for name, values in filter_values.items()
    ]
    # Periods go through time_range, not filters on a time dimension.
    time_dimensions = {n for n, d in vocab.model.dimensions.items() if d.kind == Dimension.Kind.TIME}
    single_value_ops = [op for op in OPERATORS if op not in ("in", "not in", "between")]
    free_dimensions = [d for d in dimensions if d not in vocab.values and d not in time_dimensions]
    # A metric compares with a number per group ("customers with more than 10 orders"), so only in a
    # breakdown; a dimension without a list of values with text or a number.
    grouped = shape is None or shape.breakdown or follow_up
    for free_fields, value_type in (
        (metrics if grouped else [], "number"),
        (free_dimensions, ["string", "number"]),
    ):
        if free_fields:
            filter_options.append(
                {
                    "type": "object",
                    "properties": {
                        "field": {"enum": free_fields},
                        "op": {"enum": single_value_ops},
                        "value": {"type": value_type},
                    },
                    "required": ["field", "op", "value"],
                }
            )
    date = {"type": "string", "pattern": r"^[12][0-9]{3}-[01][0-9]-[0-3][0-9]$"}
    dated = {"type": "object", "properties": {"start": date, "end": date}, "required": ["start", "end"]}
    named_periods = periods(vocab.time_span)
    grains = sorted({g for d in vocab.model.dimensions.values() for g in (d.time_grains or [])})
    properties: dict[str, Any] = {
        "metrics": {"type": "array", "items": {"enum": metrics}, "minItems": 1, "maxItems": 3},
        "dimensions": {"type": "array", "items": {"enum": dimensions}, "maxItems": 3},
        "filters": {"type": "array", "items": {"anyOf": filter_options}, "maxItems": 4},
        "time_grain": _nullable({"enum": grains}) if grains else {"type": "null"},
        # A whole year, quarter or month is a short name ("2024"); any other period is start and end.
        "time_range": _nullable({"anyOf": [{"enum": named_periods}, dated]} if named_periods else dated),
        "order_by": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"enum": fields}, "direction": {"enum": ["asc", "desc"]}},
                "required": ["field", "direction"],
            },
            "maxItems": 2,
        },
        "limit": _nullable({"type": "integer", "minimum": 1, "maximum": 1000}),
    }
    if not filter_options:
        del properties["filters"]
    if shape is not None and not follow_up:
        if not shape.breakdown:
            for part in ("dimensions", "time_grain", "order_by", "limit"):
                del properties[part]
        if not shape.period:
            del properties["time_range"]
    # Only metrics are required: the model writes the parts a question needs and closes the object,
    # which on two cores saves about a second of writing per question.
    return {"type": "object", "properties": properties, "required": ["metrics"]}


def plan_semantic_query(
    question: str,
    source: DataSource,
    tables: list[str] | None,
    history: list[Turn],
    generator: TextGenerator,
    options: GenerationOptions,
    cancel: CancelToken,
    candidate_metrics: list[str] | None = None,
    statements: list[str] = (),
    examples: list[tuple[str, dict[str, Any]]] = (),
    on_text: TextCallback | None = None,
) -> SemanticPlan | None:
    """Ask the model for a semantic query and compile it; None when the semantic layer cannot express it."""
    vocab = vocabulary(source, tables)
    if not vocab.metric_names:
        return None
    shape = question_shape(question)
    mentions = value_mentions(question, vocab)
    previous = next((turn.semantic_query for turn in reversed(history) if turn.semantic_query), None)
    if previous and is_refinement(question, [str(value) for _, value in mentions]):
        refined = refine(previous, mentions, shape, mentioned_year(question))
        try:
            query = _cleaned(refined, shape, vocab)
            sql = compile_to_sql(source, query, tables)
        except (ValueError, SemanticError):
            pass  # the model may still make sense of it
        else:
            text = json.dumps(query)
            if on_text is not None:
                on_text(text)
            return SemanticPlan(query, sql, GenerationResult(text=text, finish_reason="stop"))
    messages = prompts.semantic_messages(
        question, vocab, history=history, statements=statements, examples=examples, mentions=mentions
    )
    generation = generator.complete(
        messages,
        options=GenerationOptions(temperature=0.0, max_tokens=220, seed=options.seed).merged_over({}),
        json_schema=query_schema(
            vocab,
            shape,
            follow_up=previous is not None,
            mentions=mentions,
            candidate_metrics=candidate_metrics,
        ),
        cancel=cancel,
        on_text=on_text,
    )
    try:
        query = _cleaned(json.loads(generation.text), shape, vocab)
        sql = compile_to_sql(source, query, tables)
    except (ValueError, SemanticError):
        return None
    return SemanticPlan(query=query, sql=sql, generation=generation)


def refine(
    previous: dict[str, Any], mentions: list[tuple[str, Any]], shape: QuestionShape, year: str | None
) -> dict[str, Any]:
    """The previous query with a follow-up's values, grain or year put in: no model call needed.

    A value replaces the filter on its own dimension ("only for Japan" after "only for France").
    """
    query = copy.deepcopy(previous)
    by_dimension: dict[str, list[Any]] = {}
    for name, value in mentions:
        by_dimension.setdefault(name, []).append(value)
    filters = [f for f in query.get("filters") or [] if f["field"] not in by_dimension]
    for name, values in by_dimension.items():
        if len(values) == 1:
            filters.append({"field": name, "op": "=", "value": values[0]})
        else:
            filters.append({"field": name, "op": "in", "value": values})
    query["filters"] = filters
    if shape.grain:
        query["time_grain"] = shape.grain
    if year:
        query["time_range"] = year
    return query


def _string_literals(sql: str) -> set[str]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return set()
    return {literal.this.lower() for literal in tree.find_all(exp.Literal) if literal.is_string}


def _redundant(condition: dict[str, Any], metrics: list[Any]) -> bool:
    """A filter on a value the metric's own definition already picks ("share returned" needs every order,
    and return_rate counts the returned ones itself)."""
    if condition.get("op") != "=" or not isinstance(condition.get("value"), str):
        return False
    value = condition["value"].lower()
    return any(value in _string_literals(f"{m.expression} {m.filter or ''}".strip()) for m in metrics)


def _cleaned(
    raw: dict[str, Any], shape: QuestionShape | None = None, vocab: SemanticVocabulary | None = None
) -> dict[str, Any]:
    """The model's query made whole: empty parts, order_by fields the query does not output (which the
    compiler would refuse) and filters a metric already applies dropped; what the wording settles (a
    ranking, a grain) filled in."""
    query = {k: v for k, v in raw.items() if v not in (None, [], {})}
    if vocab is not None and query.get("filters"):
        chosen = [vocab.model.metrics[m] for m in query.get("metrics", []) if m in vocab.model.metrics]
        query["filters"] = [f for f in query["filters"] if not _redundant(f, chosen)]
        if not query["filters"]:
            del query["filters"]
    outputs = set(query.get("metrics", [])) | set(query.get("dimensions", []))
    if query.get("order_by"):
        query["order_by"] = [o for o in query["order_by"] if o["field"] in outputs]
    if shape is not None:
        if shape.grain and not query.get("time_grain"):
            query["time_grain"] = shape.grain
        if shape.ranking and query.get("metrics") and not query.get("limit"):
            query["limit"] = shape.ranking.limit
            if not query.get("order_by"):
                query["order_by"] = [{"field": query["metrics"][0], "direction": shape.ranking.direction}]
    if query.get("time_grain") and not query.get("limit"):
        # A time series reads in time order; ranking its periods by a metric needs a limit to mean anything.
        query.pop("order_by", None)
    return SemanticQuery.from_dict(query).to_dict()
