"""The semantic path: the model fills a semantic query under a JSON schema built from the source's own
semantic model, so it can only name metrics, dimensions, grains and (for low-cardinality dimensions)
filter values that exist. The semantic compiler turns the query into SQL.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
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
from catalog.text import PLURALS_AND_VERB_ENDINGS, name_words, search_words, stem
from catalog.text import words as text_words
from semantic.compiler import OPERATORS, SemanticError, SemanticModel, SemanticQuery, compile_to_sql
from semantic.models import Dimension, grains_of
from semantic.retrieval import statements_in_scope

from . import prompts
from .accounting import entity_after_each, entity_nouns
from .shape import QuestionShape, is_refinement, mentioned_year, negated, question_shape, unplaced_names

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
    statements: list[str] = field(default_factory=list)  # the business rules in scope

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
    # All of them, in the cached system prompt: a question then pays only for its own words.
    statements = [s.text for s in statements_in_scope(source, model.tables)]
    return SemanticVocabulary(model=model, values=values, time_span=time_span, statements=statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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


@dataclass(frozen=True)
class Mention:
    """A stored dimension value the question names, e.g. ("country", "Japan")."""

    dimension: str
    value: Any
    negated: bool = False  # "excluding web orders"


def value_mentions(question: str, vocab: SemanticVocabulary) -> list[Mention]:
    """Stored dimension values the question names (whole words, any case, singular or plural)."""
    lowered = question.lower()
    found = []
    for name, values in vocab.values.items():
        for value in values:
            text = str(value).strip().lower()
            if len(text) < 2:
                continue
            # "laptop" names the stored "Laptops" and "desks" the stored "Desk"
            stem = text[:-1] if text.endswith("s") and len(text) > 3 else text
            match = re.search(rf"(?<!\w){re.escape(stem)}s?(?!\w)", lowered)
            if match:
                found.append(Mention(name, value, negated(lowered[: match.start()])))
    return found


def settled_filters(mentions: list[Mention]) -> list[dict[str, Any]]:
    """Filters the wording settles: each named value that belongs to one dimension only.

    "Revenue for the Corporate segment" needs no model to write segment = 'Corporate'; a value stored
    in two dimensions is left for the model to place.
    """
    owners: dict[str, set[str]] = {}
    for mention in mentions:
        owners.setdefault(str(mention.value).lower(), set()).add(mention.dimension)
    grouped: dict[tuple[str, bool], list[Any]] = {}
    for mention in mentions:
        if len(owners[str(mention.value).lower()]) == 1:
            grouped.setdefault((mention.dimension, mention.negated), []).append(mention.value)
    filters = []
    for (dimension, is_negated), values in grouped.items():
        if len(values) == 1:
            filters.append({"field": dimension, "op": "!=" if is_negated else "=", "value": values[0]})
        else:
            filters.append({"field": dimension, "op": "not in" if is_negated else "in", "value": values})
    return filters


def query_schema(
    vocab: SemanticVocabulary,
    shape: QuestionShape | None = None,
    follow_up: bool = False,
    mentions: list[Mention] | None = None,
    candidate_metrics: list[str] | None = None,
    free_text: bool = True,
    entity: PerEntity | None = None,
    question: str = "",
) -> dict[str, Any]:
    """The JSON schema the model's output must satisfy; property order is the order the model writes.

    A fresh question is held to what its words support, since a small model otherwise groups and filters
    by whatever it sees: only the metrics retrieval found for it (``candidate_metrics``), filters only on
    the stored values it names (``mentions``), free-text filters only when it names something no listed
    value accounts for (``free_text``), and the pins of ``_pinned``; ``per`` only when the wording leaves
    the entity of a per-entity aggregate (``entity``) open between several tables, and no metric that counts
    that entity itself (one order per order makes no median). A follow-up may use everything,
    since it rewrites a previous query.
    """
    metrics = offered_metrics(vocab, candidate_metrics, entity) if not follow_up else vocab.metric_names
    if shape is not None and shape.share and not follow_up and question:
        # a part of a total is a share of a metric that adds up, or a rate of what the question names
        # ("what share of orders were returned": the return rate); another rate is no such part
        metrics = [
            m for m in metrics if _adds_up(vocab.model, [m]) or _rate_of_named(vocab.model, m, question)
        ]
        metrics = metrics or vocab.metric_names
    metrics = metrics or vocab.metric_names
    dimensions = vocab.dimension_names
    date = {"type": "string", "pattern": r"^[12][0-9]{3}-[01][0-9]-[0-3][0-9]$"}
    dated = {"type": "object", "properties": {"start": date, "end": date}, "required": ["start", "end"]}
    named_periods = periods(vocab.time_span)
    grains = sorted({g for d in vocab.model.dimensions.values() for g in grains_of(d.time_grains or [])})
    filter_options = _filter_options(vocab, metrics, shape, follow_up, mentions, free_text)
    if filter_options and all("const" in option for option in filter_options):
        # every filter is settled: written as one constant, a small model cannot repeat one of them
        filters: dict[str, Any] = {"const": [option["const"] for option in filter_options]}
    elif filter_options:
        filters = {"type": "array", "items": {"anyOf": filter_options}, "minItems": 1, "maxItems": 4}
    else:
        filters = {"const": []}
    properties: dict[str, Any] = {
        "metrics": {"type": "array", "items": {"enum": metrics}, "minItems": 1, "maxItems": 3},
        "dimensions": {"type": "array", "items": {"enum": dimensions}, "minItems": 1, "maxItems": 3},
        "filters": filters,
        "time_grain": _nullable({"enum": grains}) if grains else {"type": "null"},
        # A whole year, quarter or month is a short name ("2024"); any other period is start and end.
        "time_range": _nullable({"anyOf": [{"enum": named_periods}, dated]} if named_periods else dated),
        "order_by": _order_by(metrics + dimensions, ["asc", "desc"], most=2),
        "limit": _nullable({"type": "integer", "minimum": 1, "maximum": 1000}),
    }
    required = ["metrics"]
    if entity is not None and entity.choices and not follow_up:
        properties["per"] = {"enum": list(entity.choices)}
        required.append("per")
    if shape is not None and not follow_up:
        properties.update(_pinned(shape, metrics))
    # Only metrics are required: the model writes the parts a question needs and closes the object,
    # which on two cores saves about a second of writing per question.
    return {"type": "object", "properties": properties, "required": required}


def offered_metrics(
    vocab: SemanticVocabulary, candidate_metrics: list[str] | None, entity: PerEntity | None = None
) -> list[str]:
    """The metrics a fresh question may use: those retrieval found for it (all when it found none), less
    those that count the entity of a per-entity aggregate; empty when that leaves none of the found ones.
    """
    metrics = vocab.metric_names
    per = entity.per if entity is not None else None
    if per:
        metrics = [m for m in metrics if not _counts_rows_of(vocab.model, m, per)]
    if not candidate_metrics:
        return metrics
    found = [m for m in metrics if m in candidate_metrics]
    return found if found or per else metrics


def _order_by(fields: list[str], directions: list[str], most: int) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"field": {"enum": fields}, "direction": {"enum": directions}},
            "required": ["field", "direction"],
        },
        "minItems": 1,
        "maxItems": most,
    }


def _pinned(shape: QuestionShape, metrics: list[str]) -> dict[str, Any]:
    """The parts of a fresh question's query that its wording rules out or settles.

    Every key stays in the schema, as the model knows the format: a part the wording rules out is pinned
    to empty (no dimensions without words for a breakdown, no ordering without a ranking or sorting word,
    no grain without a grain word, no time range without words for a period), and a part it settles (a
    ranking, a grain, a whole year) to that value, which the generator then appends without sampling.
    """
    empty_list, nothing = {"const": []}, {"type": "null"}
    pins: dict[str, Any] = {"time_grain": {"const": shape.grain} if shape.grain else nothing}
    if not shape.breakdown:
        pins["dimensions"] = empty_list
    if shape.year:
        pins["time_range"] = {"const": shape.year}
    elif not shape.period:
        pins["time_range"] = nothing
    if shape.ranking:
        pins["order_by"] = _order_by(metrics, [shape.ranking.direction], most=1)
        pins["limit"] = {"const": shape.ranking.limit}
    elif not shape.sorting:
        pins["order_by"], pins["limit"] = empty_list, nothing
    return pins


def _filter_options(
    vocab: SemanticVocabulary,
    metrics: list[str],
    shape: QuestionShape | None,
    follow_up: bool,
    mentions: list[Mention] | None,
    free_text: bool,
) -> list[dict[str, Any]]:
    """What one filter may be: a settled filter as it is, a named value the wording cannot place on one
    dimension, a metric compared with a number (in a breakdown with a comparison word: "customers with
    more than 10 orders"), or text or a number on a dimension whose values are not listed."""
    fresh = not follow_up and mentions is not None
    options: list[dict[str, Any]] = []
    filter_values = vocab.values
    if fresh:
        settled = settled_filters(mentions)
        options = [{"const": f} for f in settled]
        placed = {(f["field"], str(v)) for f in settled for v in _as_list(f["value"])}
        filter_values = {}
        for mention in mentions:
            if (mention.dimension, str(mention.value)) not in placed:
                filter_values.setdefault(mention.dimension, []).append(mention.value)
    for name, values in filter_values.items():
        listed = {"enum": values}
        several = {"type": "array", "items": {"enum": values}, "minItems": 1, "maxItems": 5}
        options.append(_filter(name, ["=", "!=", "in"], {"anyOf": [listed, several]}))
    # Periods go through time_range, not filters on a time dimension.
    time_dimensions = {n for n, d in vocab.model.dimensions.items() if d.kind == Dimension.Kind.TIME}
    free_dimensions = [d for d in vocab.dimension_names if d not in vocab.values and d not in time_dimensions]
    single_value_ops = [op for op in OPERATORS if op not in ("in", "not in", "between")]
    if shape is None or follow_up or (shape.breakdown and shape.comparison):
        options.append(_filter(metrics, single_value_ops, {"type": "number"}))
    if free_dimensions and (free_text or follow_up):
        options.append(_filter(free_dimensions, single_value_ops, {"type": ["string", "number"]}))
    return options


def _filter(fields: str | list[str], ops: list[str], value: dict[str, Any]) -> dict[str, Any]:
    field_schema = {"const": fields} if isinstance(fields, str) else {"enum": fields}
    return {
        "type": "object",
        "properties": {"field": field_schema, "op": {"enum": ops}, "value": value},
        "required": ["field", "op", "value"],
    }


def unmodelled_column(question: str, model: SemanticModel) -> str | None:
    """A column the question names (all words of its name) that no metric or dimension is built on,
    e.g. "by list price" when only unit prices are modelled: the semantic layer cannot answer it."""
    used: set[str] = set()
    known_words: set[str] = set()
    for row in [*model.metrics.values(), *model.dimensions.values()]:
        for snippet in (row.expression, getattr(row, "filter", "") or ""):
            if snippet:
                try:
                    used |= {
                        c.name.lower() for c in sqlglot.parse_one(snippet, read="duckdb").find_all(exp.Column)
                    }
                except sqlglot.errors.ParseError:
                    continue
        for phrase in [row.name, row.label or "", *(getattr(row, "synonyms", None) or [])]:
            known_words |= set(name_words(phrase))
    asked = set(name_words(question))
    columns = Column.objects.filter(table__source=model.source, table__name__in=model.tables)
    for column in columns.select_related("table"):
        words = set(name_words(column.name))
        if (
            column.name.lower() not in used
            and not column.is_primary_key
            and not column.name.lower().endswith("id")
            and words
            and words <= asked
            and not words <= known_words
        ):
            return f"{column.table.name}.{column.name}"
    return None


@dataclass(frozen=True)
class PerEntity:
    """An aggregate of per-entity totals the wording asks for: "the median revenue per customer"."""

    aggregates: tuple[str, ...]  # "median", "p90", "avg"
    per: str | None  # the entity table; None: the metric's own rows
    choices: tuple[str, ...] = ()  # when the wording names several entities, the model picks one


_HOW_MANY = re.compile(
    r"\bhow\s+many\s+((?:[a-z]+\s+){0,2}?[a-z]+)\b(?=\s+(?:have|has|had|did|were|are|spent|made|placed|bought|with|whose|that|who)\b)",
    re.I,
)


def per_entity(question: str, shape: QuestionShape, model: SemanticModel) -> PerEntity | None:
    """The entity whose totals a question aggregates, read from its words.

    "Average revenue per sales rep", "on average, how much has each paying customer spent": the table
    named (with at most one word between) after "per", "each" or "every", unless a word of a dimension
    or column follows it ("per customer segment" is a breakdown). A median or percentile with no such
    words is taken per the one entity the question names, else the model picks between those it names,
    else it runs over the metric's own rows; a plain average needs the words, as "average order value"
    is a metric of its own.
    """
    nouns = entity_nouns(model.entities)
    if not shape.aggregates:
        counted = _HOW_MANY.search(question)
        words = [name_words(w)[0] for w in counted.group(1).split() if name_words(w)] if counted else []
        if shape.thresholds and not shape.breakdown and words and words[-1] in nouns:
            return PerEntity(("count",), nouns[words[-1]])  # "how many customers spent over 10,000?"
        return None
    field_words = {
        w for d in model.dimensions.values() for p in (d.name, d.label or "") for w in name_words(p)
    }
    columns = Column.objects.filter(table__source=model.source, table__name__in=model.tables)
    field_words |= {w for name in columns.values_list("name", flat=True) for w in name_words(name)}
    entity = entity_after_each(question, nouns, field_words)
    if entity:
        return PerEntity(shape.aggregates, entity)
    if set(shape.aggregates) == {"avg"}:
        return None
    asked = set(name_words(question))
    named = sorted({table for noun, table in nouns.items() if noun in asked})
    if len(named) == 1:
        return PerEntity(shape.aggregates, named[0])
    return PerEntity(shape.aggregates, None, tuple(named))


def _counts_rows_of(model: SemanticModel, metric: str, table: str) -> bool:
    """Whether ``metric`` counts the rows of ``table`` itself (their key, or a reference to it): 1 for
    each of them."""
    row = model.metrics[metric]
    try:
        node = sqlglot.parse_one(row.expression, read="duckdb")
    except sqlglot.errors.ParseError:
        return False
    if not isinstance(node, exp.Count):
        return False
    argument = node.this
    if isinstance(argument, exp.Distinct):
        argument = argument.expressions[0] if len(argument.expressions) == 1 else None
    if isinstance(argument, exp.Star):
        return row.table == table
    return isinstance(argument, exp.Column) and model.identifies(
        argument.table or row.table, argument.name, table
    )


def _without_unasked_attributes(query: dict[str, Any], question: str, model: SemanticModel) -> dict[str, Any]:
    """A per-entity aggregate without the groupings by the entity's own attributes that the question does
    not name: "average revenue per sales rep" is one figure, not one per rep name (the model reads "per"
    as a breakdown)."""
    per = query.get("per")
    dimensions = query.get("dimensions")
    if not per or not isinstance(dimensions, list):
        return query
    asked = set(name_words(question)) - set(name_words(str(per)))
    kept = []
    for name in dimensions:
        row = model.dimensions.get(name) if isinstance(name, str) else None
        if row is not None and row.table == per:
            words = {w for p in (name, row.label or "", *(row.synonyms or [])) for w in name_words(p)}
            if not words & asked:
                continue
        kept.append(name)
    return {**query, "dimensions": kept}


_ID = re.compile(r"\b([a-z]+)\s+(#\s*|no\.?\s*|number\s+|id\s+)?(\d+)\b", re.I)


def id_filters(question: str, model: SemanticModel) -> list[dict[str, Any]]:
    """Rows the question names by their key: "customer 1337", "order #20420" filter on that table's key.

    A bare year after a noun ("orders 2024") is a period, not an id.
    """
    nouns = entity_nouns(model.entities)
    found = []
    for match in _ID.finditer(question):
        words = name_words(match.group(1))
        if not words or words[0] not in nouns:
            continue
        if not match.group(2) and re.fullmatch(r"(19|20)\d{2}", match.group(3)):
            continue
        table = nouns[words[0]]
        found.append({"field": f"{table}.{model.entities[table]}", "op": "=", "value": int(match.group(3))})
    return found


# Words any time dimension answers to ("month", "when"): they do not name one of them in particular.
def _without_modifier_dimensions(
    query: dict[str, Any], question: str, model: SemanticModel
) -> dict[str, Any]:
    """Groupings the question names only as a modifier of another chosen grouping: in "each rep region"
    or "customer segment" the first word qualifies the second, so the breakdown is by region, not by rep
    and region."""
    dimensions = [d for d in query.get("dimensions") or [] if isinstance(d, str) and d in model.dimensions]
    if len(dimensions) < 2:
        return query

    def words_of(name: str) -> set[str]:
        row = model.dimensions[name]
        return {w for p in (name, row.label or "", *(row.synonyms or [])) for w in name_words(p)}

    tokens = [w for token in re.findall(r"[A-Za-z0-9']+", question) for w in name_words(token)[:1]]
    own = {d: words_of(d) for d in dimensions}
    dropped = set()
    for name in dimensions:
        others = set().union(*(own[d] - own[name] for d in dimensions if d != name and d not in dropped))
        supports = [i for i, w in enumerate(tokens) if w in own[name] and w not in others]
        if supports and all(i + 1 < len(tokens) and tokens[i + 1] in others for i in supports):
            dropped.add(name)
    return {**query, "dimensions": [d for d in query.get("dimensions") or [] if d not in dropped]}


_GENERIC_TIME_WORDS = frozenset(
    ["date", "time", "day", "week", "month", "quarter", "year", "period", "when", "at", "on"]
)


def _with_own_time_dimension(query: dict[str, Any], question: str, model: SemanticModel) -> dict[str, Any]:
    """The metric's own time dimension where the model put another one the question does not name:
    "new customer signups per month" counts customers by signup date, not by order date."""
    metrics = [
        model.metrics[m] for m in query.get("metrics") or [] if isinstance(m, str) and m in model.metrics
    ]
    own = {m.time_dimension for m in metrics if m.time_dimension and m.time_dimension in model.dimensions}
    if len(own) != 1:
        return query
    (own_name,) = own
    asked = set(search_words(question))

    def unasked(name: Any) -> bool:
        row = model.dimensions.get(name) if isinstance(name, str) else None
        if row is None or row.kind != Dimension.Kind.TIME or name == own_name:
            return False
        phrases = (name, row.label or "", *(row.synonyms or []))
        words = {w for phrase in phrases for w in search_words(phrase)} - _GENERIC_TIME_WORDS
        return not words & asked

    dimensions = query.get("dimensions") or []
    replaced = [own_name if unasked(d) else d for d in dimensions]
    query = {**query, "dimensions": list(dict.fromkeys(replaced))}
    if unasked(query.get("time_dimension")):
        query["time_dimension"] = own_name
    return query


_ALL_TIME = re.compile(r"\b(all[\s-]+time|overall|ever|all\s+(the\s+)?years|every\s+year|in\s+total)\b", re.I)
_SHAPE_KEYS = ("per", "aggregate", "share", "growth", "percent", "without")


def _with_previous_shape(query: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """A follow-up keeps the previous query's per-entity aggregate, share or growth ("and in 2023?" after a
    median per order), which the model does not write: its schema leaves them out."""
    kept = {key: previous[key] for key in _SHAPE_KEYS if previous.get(key) not in (None, [], False)}
    if kept.get("growth"):
        query = {k: v for k, v in query.items() if k not in ("time_range", "time_grain")}
    return {**query, **kept}


@dataclass(frozen=True)
class Absence:
    """Rows of one table with no related rows in another: "customers who placed no orders"."""

    entity: str  # the table whose rows are counted or listed
    without: str  # the table none of whose related rows may exist


_ABSENT = re.compile(
    r"\b(?:no|never|without|not\s+any|none\s+of|(?:did|does|do|have|has)\s*(?:n't|\s+not))\s+((?:[\w'-]+\s+){0,5}[\w'-]+)",
    re.I,
)


def absence(question: str, model: SemanticModel) -> Absence | None:
    """The rows the question counts or lists by what they lack, read from its words: the table named last
    before "no", "never", "without" or "did not", and the first table named (a noun, or a verb as in
    "never ordered") in the few words after it.

    "How many customers placed no orders in 2024?" is customers without orders; "which products did no
    customer in Peru buy" is products without customers (through the orders between them).
    """
    nouns = entity_nouns(model.entities)
    match = _ABSENT.search(question)
    if match is None:
        return None
    before = [
        n for w in text_words(question[: match.start()]) if (n := stem(w, PLURALS_AND_VERB_ENDINGS)) in nouns
    ]
    after = [n for w in text_words(match.group(1)) if (n := stem(w, PLURALS_AND_VERB_ENDINGS)) in nouns]
    if not before or not after or nouns[before[-1]] == nouns[after[0]]:
        return None
    return Absence(nouns[before[-1]], nouns[after[0]])


def _with_absence(query: dict[str, Any], question: str, model: SemanticModel) -> dict[str, Any]:
    """The query of a question about rows that lack related rows, counted by a metric that counts those
    rows (the model tends to count the related rows instead) and broken down only by their own
    attributes."""
    found = absence(question, model)
    if found is None or found.entity not in model.entities:
        return query
    metrics = [m for m in query.get("metrics") or [] if isinstance(m, str) and m in model.metrics]
    if not metrics or any(model.metrics[m].table != found.entity for m in metrics):
        counting = [m for m, row in model.metrics.items()
                    if row.table == found.entity and not row.filter and _counts_rows_of(model, m, found.entity)]  # fmt: skip
        if not counting:
            return query
        metrics = counting[:1]
    own = {found.entity} | {t for t, (_, _, fans) in model.join_tree(found.entity).items() if not fans}
    own.discard(found.without)
    dimensions = [
        d for d in query.get("dimensions") or []
        if isinstance(d, str) and d in model.dimensions and model.dimensions[d].table in own
    ]  # fmt: skip
    settled = {k: v for k, v in query.items() if k != "time_dimension"}
    order = [
        o
        for o in query.get("order_by") or []
        if isinstance(o, dict) and o.get("field") in metrics + dimensions
    ]
    return {
        **settled,
        "metrics": metrics,
        "dimensions": dimensions,
        "order_by": order,
        "without": found.without,
    }


def _with_threshold(query: dict[str, Any], shape: QuestionShape, model: SemanticModel) -> dict[str, Any]:
    """The one comparison with a number the wording makes ("spent over 10,000"), on the query's one metric
    when the model left it out: a threshold on totals, per group or per entity. A number followed by a
    noun for an entity the metric does not count ("more than 5 orders" beside revenue) is left alone."""
    metrics = query.get("metrics") or []
    if len(shape.thresholds) != 1 or len(metrics) != 1 or metrics[0] not in model.metrics:
        return query
    if not (shape.breakdown or query.get("per")):
        return query
    threshold = shape.thresholds[0]
    filters = [f for f in query.get("filters") or [] if isinstance(f, dict)]
    if any(f.get("value") == threshold.value for f in filters):
        return query
    unit = name_words(threshold.unit)[0] if name_words(threshold.unit) else ""
    nouns = entity_nouns(model.entities)
    if unit in nouns and not _counts_rows_of(model, metrics[0], nouns[unit]):
        return query
    settled = {"field": metrics[0], "op": threshold.op, "value": threshold.value}
    return {**query, "filters": [*filters, settled]}


def _adds_up(model: SemanticModel, names: Any) -> bool:
    """Whether each named metric is one SUM or COUNT, whose values over parts add up to the whole."""
    rows = [model.metrics[n] for n in names or [] if isinstance(n, str) and n in model.metrics]
    try:
        parsed = [sqlglot.parse_one(row.expression, read="duckdb") for row in rows]
    except sqlglot.errors.ParseError:
        return False
    return bool(parsed) and all(isinstance(node, (exp.Sum, exp.Count)) for node in parsed)


def _rate_of_named(model: SemanticModel, metric: str, question: str) -> bool:
    """A metric whose definition picks a value the question names ("returned" for the return rate)."""
    row = model.metrics[metric]
    literals = _string_literals(row.expression) | _string_literals(row.filter or "")
    asked = set(name_words(question))
    return any(set(name_words(literal)) <= asked for literal in literals if name_words(literal))


def _needs_per_entity(entity: PerEntity, query: Any, model: SemanticModel) -> bool:
    """A plain average of totals needs metrics that add up (sums, counts): "the average order value per
    customer" is a metric that averages already, broken down or not, not an average of averages."""
    if entity.aggregates != ("avg",):
        return True
    return _adds_up(model, query.get("metrics") if isinstance(query, dict) else None)


def _in_order_named(metrics: list[str], question: str, model: SemanticModel) -> list[str]:
    """The metrics in the order the question names them ("cancelled to completed"): by where it first says
    a word of one metric's names that the other's lack."""
    words = {m: {w for p in (m, model.metrics[m].label or "", *(model.metrics[m].synonyms or [])) for w in name_words(p)}
             for m in metrics}  # fmt: skip
    asked = [w for token in re.findall(r"[A-Za-z0-9']+", question) for w in name_words(token)[:1]]
    positions = []
    for metric in metrics:
        own = words[metric] - set().union(*(words[m] for m in metrics if m != metric))
        positions.append(next((i for i, w in enumerate(asked) if w in own), None))
    if any(p is None for p in positions):
        return metrics
    return [m for _, m in sorted(zip(positions, metrics, strict=True))]


def _with_share_or_growth(
    query: dict[str, Any], shape: QuestionShape, model: SemanticModel, question: str = ""
) -> dict[str, Any]:
    """The share of a total or the growth between two years that the wording asks for ("what percentage of
    revenue comes from Electronics", "revenue growth from 2023 to 2024"). A share needs one metric that
    adds up; a metric that is a rate or a percentage already is the share itself, times 100 for "%"."""
    metrics = query.get("metrics") or []
    if shape.growth and metrics:
        query = {k: v for k, v in query.items() if k not in ("time_range", "time_grain")}
        # the two periods are the comparison: no breakdown by a time dimension besides
        query["dimensions"] = [
            d for d in query.get("dimensions") or []
            if not (d in model.dimensions and model.dimensions[d].kind == Dimension.Kind.TIME)
        ]  # fmt: skip
        return {**query, "growth": {"from": shape.growth[0], "to": shape.growth[1]}, "percent": shape.percent}
    if shape.ratio and len(metrics) == 2 and all(m in model.metrics for m in metrics):
        return {
            **query,
            "metrics": _in_order_named(metrics, question, model),
            "ratio": True,
            "percent": shape.percent,
        }
    rows = [model.metrics[m] for m in metrics if m in model.metrics]
    dimension_filters = [
        f
        for f in query.get("filters") or []
        if f.get("field") not in model.metrics and not _redundant(f, rows)
    ]
    # a share needs a part smaller than the total: a breakdown or a filter on the rows
    if (
        shape.share
        and len(metrics) == 1
        and _adds_up(model, metrics)
        and (query.get("dimensions") or dimension_filters)
    ):
        return {**query, "share": True, "percent": shape.percent}
    rates = [model.metrics[m] for m in metrics if m in model.metrics and model.metrics[m].format == "percent"]
    if shape.percent and rates and len(rates) == len(metrics):
        return {**query, "percent": True}  # "what % of orders were returned": the return rate times 100
    return query


def plan_semantic_query(
    question: str,
    source: DataSource,
    tables: list[str] | None,
    history: list[Turn],
    generator: TextGenerator,
    options: GenerationOptions,
    cancel: CancelToken,
    candidate_metrics: list[str] | None = None,
    examples: list[tuple[str, dict[str, Any]]] = (),
    on_text: TextCallback | None = None,
) -> SemanticPlan | None:
    """Ask the model for a semantic query and compile it; None when the semantic layer cannot express it
    (no metrics, or a fresh question about a column it leaves out)."""
    vocab = vocabulary(source, tables)
    previous = next((turn.semantic_query for turn in reversed(history) if turn.semantic_query), None)
    if not vocab.metric_names or (previous is None and unmodelled_column(question, vocab.model)):
        return None
    shape = question_shape(question)
    mentions = value_mentions(question, vocab)
    entity = per_entity(question, shape, vocab.model) if previous is None else None
    if entity is not None and not offered_metrics(vocab, candidate_metrics, entity):
        return None  # the metrics it names only count the entity: no total per entity to aggregate
    if previous and is_refinement(question, [str(m.value) for m in mentions]):
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
        question,
        vocab,
        history=history,
        examples=examples,
        mentions=mentions,
    )
    generation = generator.complete(
        messages,
        prefix_owner=source.name,
        options=GenerationOptions(temperature=0.0, max_tokens=220, seed=options.seed).merged_over({}),
        json_schema=query_schema(
            vocab,
            shape,
            follow_up=previous is not None,
            mentions=mentions,
            candidate_metrics=candidate_metrics,
            free_text=unplaced_names(question, [str(m.value) for m in mentions]),
            entity=entity,
            question=question,
        ),
        cancel=cancel,
        on_text=on_text,
    )
    try:
        query = json.loads(generation.text)
        if previous is None:
            if entity and not _needs_per_entity(entity, query, vocab.model):
                entity = None
            filters = settled_filters(mentions) + id_filters(question, vocab.model)
            query = _with_settled_parts(query, shape, filters, entity)
            query = _without_unasked_attributes(query, question, vocab.model)
            query = _with_own_time_dimension(query, question, vocab.model)
            query = _without_modifier_dimensions(query, question, vocab.model)
            query = _with_threshold(query, shape, vocab.model)
            query = _with_absence(query, question, vocab.model)
            if entity is None:
                query = _with_share_or_growth(query, shape, vocab.model, question)
        elif isinstance(query, dict):
            if not shape.grain:
                # "now split that by channel as well" keeps the previous grain: only words for one change it
                query["time_grain"] = previous.get("time_grain")
            if not shape.period and previous.get("time_range") and not _ALL_TIME.search(question):
                query["time_range"] = previous["time_range"]  # and its period, unless it names another
            query = _with_previous_shape(query, previous)
        query = _cleaned(query, shape, vocab)
        sql = compile_to_sql(source, query, tables)
    except (ValueError, SemanticError):
        return None
    return SemanticPlan(query=query, sql=sql, generation=generation)


def _with_settled_parts(
    query: dict[str, Any],
    shape: QuestionShape,
    filters: list[dict[str, Any]],
    entity: PerEntity | None = None,
) -> dict[str, Any]:
    """The model's query with the filters, the year and the per-entity aggregate the wording settles (the
    filters replace the model's own on the same dimensions)."""
    query = dict(query)
    if isinstance(query.get("metrics"), list):  # the model may name a metric twice
        query["metrics"] = list(dict.fromkeys(query["metrics"]))
    if entity is not None:
        query["aggregate"] = list(entity.aggregates)
        if entity.per:
            query["per"] = entity.per
    if filters:
        fields = {f["field"] for f in filters}
        query["filters"] = [f for f in query.get("filters") or [] if f.get("field") not in fields] + filters
    if shape.year:
        query["time_range"] = shape.year
    return query


def refine(
    previous: dict[str, Any], mentions: list[Mention], shape: QuestionShape, year: str | None
) -> dict[str, Any]:
    """The previous query with a follow-up's values, grain or year put in: no model call needed.

    A value replaces the filter on its own dimension ("only for Canada" after "only for Mexico").
    """
    query = copy.deepcopy(previous)
    new_filters = settled_filters(mentions)
    fields = {f["field"] for f in new_filters}
    query["filters"] = [f for f in query.get("filters") or [] if f["field"] not in fields] + new_filters
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
    return any(value in _string_literals(m.expression) | _string_literals(m.filter or "") for m in metrics)


def _picked_values(snippet: str) -> dict[str, set[str]]:
    """Column name -> the values a metric's filter picks: "orders.status = 'completed'" picks completed."""
    try:
        tree = sqlglot.parse_one(snippet, read="duckdb")
    except sqlglot.errors.ParseError:
        return {}
    picked: dict[str, set[str]] = {}
    for node in tree.find_all(exp.EQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else None
        values = [node.expression] if isinstance(node, exp.EQ) else node.expressions
        if column is not None and all(isinstance(v, exp.Literal) and v.is_string for v in values):
            picked.setdefault(column.name.lower(), set()).update(v.this.lower() for v in values)
    return picked


def _contradicts(condition: dict[str, Any], metrics: list[Any], model: SemanticModel) -> bool:
    """A filter that keeps only values a metric's own filter leaves out ("the revenue of cancelled orders",
    when revenue counts completed ones): the metric cannot answer it, whatever it returns."""
    row = model.dimensions.get(condition.get("field")) if isinstance(condition.get("field"), str) else None
    located = _column_of(row.expression, row.table) if row is not None else None
    if located is None or condition.get("op") not in ("=", "in"):
        return False
    wanted = {str(v).lower() for v in _as_list(condition.get("value"))}
    for metric in metrics:
        picked = _picked_values(metric.filter or "").get(located[1].lower())
        if picked and not wanted & picked:
            return True
    return False


def _cleaned(
    raw: dict[str, Any], shape: QuestionShape | None = None, vocab: SemanticVocabulary | None = None
) -> dict[str, Any]:
    """The model's query made whole: empty parts, order_by fields the query does not output (which the
    compiler would refuse) and filters a metric already applies dropped; what the wording settles (a
    ranking, a grain) filled in."""
    query = {k: v for k, v in raw.items() if v not in (None, [], {})}
    if vocab is not None and query.get("filters"):
        chosen = [vocab.model.metrics[m] for m in query.get("metrics", []) if m in vocab.model.metrics]
        contradicting = [f for f in query["filters"] if _contradicts(f, chosen, vocab.model)]
        if contradicting:
            raise SemanticError(
                f"Filter {contradicting[0]} contradicts the definition of {', '.join(m.name for m in chosen)}"
            )
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
