"""The semantic path: the model fills a semantic query under a JSON schema built from the source's own
semantic model, so it can only name metrics, dimensions, grains and (for low-cardinality dimensions)
filter values that exist. The semantic compiler turns the query into SQL.
"""

from __future__ import annotations

import json
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


def query_schema(vocab: SemanticVocabulary) -> dict[str, Any]:
    """The JSON schema the model's output must satisfy; property order is the order the model writes."""
    metrics = vocab.metric_names
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
        for name, values in vocab.values.items()
    ]
    # Periods go through time_range, not filters on a time dimension.
    time_dimensions = {n for n, d in vocab.model.dimensions.items() if d.kind == Dimension.Kind.TIME}
    free_fields = [f for f in fields if f not in vocab.values and f not in time_dimensions]
    if free_fields:
        filter_options.append(
            {
                "type": "object",
                "properties": {
                    "field": {"enum": free_fields},
                    "op": {"enum": [op for op in OPERATORS if op not in ("in", "not in", "between")]},
                    "value": {"type": ["string", "number"]},
                },
                "required": ["field", "op", "value"],
            }
        )
    date = {"type": "string", "pattern": r"^[12][0-9]{3}-[01][0-9]-[0-3][0-9]$"}
    grains = sorted({g for d in vocab.model.dimensions.values() for g in (d.time_grains or [])})
    return {
        "type": "object",
        "properties": {
            "metrics": {"type": "array", "items": {"enum": metrics}, "minItems": 1, "maxItems": 3},
            "dimensions": {"type": "array", "items": {"enum": dimensions}, "maxItems": 3},
            "filters": {"type": "array", "items": {"anyOf": filter_options}, "maxItems": 4},
            "time_grain": _nullable({"enum": grains}) if grains else {"type": "null"},
            "time_range": _nullable(
                {"type": "object", "properties": {"start": date, "end": date}, "required": ["start", "end"]}
            ),
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
        },
        # Only metrics are required: the model writes the parts a question needs and closes the object,
        # which on two cores saves about a second of writing per question.
        "required": ["metrics"],
    }


def plan_semantic_query(
    question: str,
    source: DataSource,
    tables: list[str] | None,
    history: list[Turn],
    generator: TextGenerator,
    options: GenerationOptions,
    cancel: CancelToken,
    statements: list[str] = (),
    examples: list[tuple[str, dict[str, Any]]] = (),
    on_text: TextCallback | None = None,
) -> SemanticPlan | None:
    """Ask the model for a semantic query and compile it; None when the semantic layer cannot express it."""
    vocab = vocabulary(source, tables)
    if not vocab.metric_names:
        return None
    messages = prompts.semantic_messages(
        question, vocab, history=history, statements=statements, examples=examples
    )
    generation = generator.complete(
        messages,
        options=GenerationOptions(temperature=0.0, max_tokens=220, seed=options.seed).merged_over({}),
        json_schema=query_schema(vocab),
        cancel=cancel,
        on_text=on_text,
    )
    try:
        query = _cleaned(json.loads(generation.text))
        sql = compile_to_sql(source, query, tables)
    except (ValueError, SemanticError):
        return None
    return SemanticPlan(query=query, sql=sql, generation=generation)


def _cleaned(raw: dict[str, Any]) -> dict[str, Any]:
    """Drop empty parts and order_by fields the query does not output, which the compiler would refuse."""
    query = {k: v for k, v in raw.items() if v not in (None, [], {})}
    outputs = set(query.get("metrics", [])) | set(query.get("dimensions", []))
    if query.get("order_by"):
        query["order_by"] = [o for o in query["order_by"] if o["field"] in outputs]
    return SemanticQuery.from_dict(query).to_dict()
