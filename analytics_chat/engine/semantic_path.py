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
from catalog.text import name_words
from semantic.compiler import (
    OPERATORS,
    SemanticError,
    SemanticModel,
    SemanticQuery,
    column_of,
    compile_to_sql,
)
from semantic.models import Dimension, grains_of
from semantic.retrieval import statements_in_scope

from . import prompts
from .settle import (
    PerEntity,
    adds_up,
    counts_rows_of,
    per_entity,
    rate_of_named,
    redundant,
    settle_follow_up,
    settle_fresh,
)
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


def vocabulary(source: DataSource, tables: list[str] | None = None) -> SemanticVocabulary:
    model = SemanticModel(source, tables)
    profiles = {
        (c.table.name, c.name): c.profile or {}
        for c in Column.objects.filter(table__source=source).select_related("table")
    }
    values: dict[str, list[Any]] = {}
    spans: list[tuple[str, str]] = []
    for name, dimension in model.dimensions.items():
        located = column_of(dimension.expression, dimension.table)
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
        metrics = [m for m in metrics if adds_up(vocab.model, [m]) or rate_of_named(vocab.model, m, question)]
        metrics = metrics or vocab.metric_names
    if entity is not None and entity.per and set(entity.aggregates) == {"avg"} and not follow_up and question:
        # an average of totals per entity averages totals: "the average number of orders per customer"
        # is no average order value, unless the question says that metric's own name
        metrics = [
            m for m in metrics if adds_up(vocab.model, [m]) or _says_name_of(question, vocab.model, m)
        ] or metrics
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


def _says_name_of(question: str, model: SemanticModel, metric: str) -> bool:
    """Whether the question says the metric's label or a synonym whole ("average order value")."""
    row = model.metrics[metric]
    return any(
        re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", question.lower())
        for phrase in (row.label or "", *(row.synonyms or []))
        if phrase
    )


def offered_metrics(
    vocab: SemanticVocabulary, candidate_metrics: list[str] | None, entity: PerEntity | None = None
) -> list[str]:
    """The metrics a fresh question may use: those retrieval found for it (all when it found none), less
    those that count the entity of a per-entity aggregate; empty when that leaves none of the found ones.
    """
    metrics = vocab.metric_names
    per = entity.per if entity is not None else None
    if per:
        metrics = [m for m in metrics if not counts_rows_of(vocab.model, m, per)]
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
            query = settle_fresh(query, question, shape, vocab.model, settled_filters(mentions), entity)
        else:
            query = settle_follow_up(query, previous, question, shape, vocab.model)
        query = _cleaned(query, shape, vocab)
        sql = compile_to_sql(source, query, tables)
    except (ValueError, SemanticError):
        return None
    return SemanticPlan(query=query, sql=sql, generation=generation)


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
    located = column_of(row.expression, row.table) if row is not None else None
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
        query["filters"] = [f for f in query["filters"] if not redundant(f, chosen)]
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
