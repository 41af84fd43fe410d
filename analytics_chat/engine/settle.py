"""What a question's wording settles in the semantic query the model wrote for it.

A small model reads "customers who placed no orders" as a count of orders and "average revenue per sales
rep" as revenue by rep name. The wording says more than the model keeps, so after it writes a query each
step below puts back one thing the words settle: the filters and the year they name, an aggregate of
per-entity totals, the metric's own time dimension, a threshold on totals, rows without related rows, a
share, a growth or a ratio. A follow-up keeps the previous query's period and shape.

``settle_fresh`` and ``settle_follow_up`` run the steps in order; each step is a function of the query
and the words, testable alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from catalog.models import Column
from catalog.text import PLURALS_AND_VERB_ENDINGS, name_words, search_words, stem
from catalog.text import words as text_words
from semantic.compiler import SemanticError, SemanticModel
from semantic.models import Dimension

from .accounting import NamedMetric, entity_after_each, entity_nouns, metric_needs, phrase_spans
from .shape import QuestionShape


def settle_fresh(
    query: Any,
    question: str,
    shape: QuestionShape,
    model: SemanticModel,
    filters: list[dict[str, Any]],
    entity: PerEntity | None,
) -> dict[str, Any]:
    """The model's query for a new question with what its wording settles put in (``filters``: the values
    and keys it names)."""
    if entity and not needs_per_entity(entity, query, model):
        entity = None
    query = _with_settled_parts(query, shape, filters + id_filters(question, model), entity)
    query = _without_unasked_attributes(query, question, model)
    query = _with_own_time_dimension(query, question, model)
    query = _without_modifier_dimensions(query, question, model)
    query = _with_count_beside_its_groups(query, model)
    query = _with_listed_entity(query, question, shape, model)
    query = _with_threshold(query, shape, model)
    query = _with_absence(query, question, model)
    if entity is None:
        query = _with_share_or_growth(query, shape, model, question)
    one_each = counted_once_per_group(query, model)
    if one_each:
        raise SemanticError(one_each)  # an answer of ones is another question's answer
    return query


def counted_once_per_group(query: Any, model: SemanticModel) -> str | None:
    """Why the query counts one row per group, if it does: a count of products by product name is 1 for
    every product, whatever the question asked ("the product on the most returned orders")."""
    if not isinstance(query, dict) or query.get("aggregate"):
        return None
    metrics = [m for m in query.get("metrics") or [] if isinstance(m, str) and m in model.metrics]
    dimensions = [d for d in query.get("dimensions") or [] if isinstance(d, str) and d in model.dimensions]
    for dimension in dimensions:
        table = model.tells_apart(dimension)
        for metric in metrics:
            if table and counts_rows_of(model, metric, table):
                return f"'{metric}' counts one row of {table} per '{dimension}'"
    return None


def settle_follow_up(
    query: Any, previous: dict[str, Any], question: str, shape: QuestionShape, model: SemanticModel
) -> dict[str, Any]:
    """The model's query for a follow-up, keeping what the previous query settled and the follow-up does
    not change: its grain, period and filters ("now split that by channel as well") and its shape."""
    if not isinstance(query, dict):
        return query
    if not shape.grain:
        query["time_grain"] = previous.get("time_grain")
    if not shape.period:
        # no words for a period: the previous one, never one the model makes up ("by year too")
        query["time_range"] = None if _ALL_TIME.search(question) else previous.get("time_range")
    query = _with_previous_filters(query, previous, question, model)
    return _with_previous_shape(query, previous)


def field_words(model: SemanticModel, name: str) -> set[str]:
    """The words a metric, dimension or ``table.column`` goes by: its name, label and synonyms."""
    row = model.metrics.get(name) or model.dimensions.get(name)
    phrases = (name, row.label or "", *(row.synonyms or [])) if row is not None else (name,)
    return {w for phrase in phrases for w in name_words(phrase)}


def _with_previous_filters(
    query: dict[str, Any], previous: dict[str, Any], question: str, model: SemanticModel
) -> dict[str, Any]:
    """A follow-up keeps the previous filters it neither replaces nor names ("give me that per month" after
    the orders of one rep): the model, rewriting the query, tends to drop them."""
    new = [f for f in query.get("filters") or [] if isinstance(f, dict)]
    fields = {f.get("field") for f in new}
    asked = set(name_words(question))
    kept = [
        f for f in previous.get("filters") or []
        if isinstance(f, dict) and isinstance(f.get("field"), str) and f["field"] not in fields
        and not field_words(model, f["field"]) & asked
    ]  # fmt: skip
    return {**query, "filters": [*new, *kept]} if kept else query


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


def counts_rows_of(model: SemanticModel, metric: str, table: str) -> bool:
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
        if row is not None and row.table == per and not field_words(model, name) & asked:
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


def _without_modifier_dimensions(
    query: dict[str, Any], question: str, model: SemanticModel
) -> dict[str, Any]:
    """Groupings the question names only as a modifier of another chosen grouping: in "each rep region"
    or "customer segment" the first word qualifies the second, so the breakdown is by region, not by rep
    and region. Likewise a noun after each of the values compared on another grouping: "Europe reps vs
    North America reps" compares two regions, not reps."""
    dimensions = [d for d in query.get("dimensions") or [] if isinstance(d, str) and d in model.dimensions]
    if len(dimensions) < 2:
        return query

    tokens = [w for token in re.findall(r"[A-Za-z0-9']+", question) for w in name_words(token)[:1]]
    own = {d: field_words(model, d) for d in dimensions}
    compared = {  # the last word of each value of a filter with several values on a chosen grouping
        name_words(str(value))[-1]
        for f in query.get("filters") or []
        if isinstance(f, dict) and f.get("field") in dimensions and isinstance(f.get("value"), list)
        for value in f["value"]
        if name_words(str(value))
    }
    dropped = set()
    for name in dimensions:
        others = set().union(*(own[d] - own[name] for d in dimensions if d != name and d not in dropped))
        supports = [i for i, w in enumerate(tokens) if w in own[name] and w not in others]
        if (supports and all(i + 1 < len(tokens) and tokens[i + 1] in others for i in supports)) or (
            supports and all(i > 0 and tokens[i - 1] in compared - own[name] for i in supports)
        ):
            dropped.add(name)
    return {**query, "dimensions": [d for d in query.get("dimensions") or [] if d not in dropped]}


# Words any time dimension answers to ("month", "when"): they do not name one of them in particular.
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
                    if row.table == found.entity and not row.filter and counts_rows_of(model, m, found.entity)]  # fmt: skip
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


def _with_count_beside_its_groups(query: dict[str, Any], model: SemanticModel) -> dict[str, Any]:
    """A count of an entity's rows broken down by groups its table reaches only through rows of another
    (customers by sales rep, through their orders) counts the entity where those rows are: "distinct
    customers each rep dealt with in 2025" is the metric counting customers on the orders, by order date,
    not all customers by signup date."""
    dimensions = [d for d in query.get("dimensions") or [] if isinstance(d, str) and d in model.dimensions]
    if not dimensions or query.get("per"):
        return query

    def fans_out(metric: str) -> bool:
        tree = model.join_tree(model.metrics[metric].table)
        tables = {t for d in dimensions for t in model.item(d).tables} - {model.metrics[metric].table}
        return any(t not in tree or tree[t][2] for t in tables)

    replaced = []
    for metric in query.get("metrics") or []:
        row = model.metrics.get(metric) if isinstance(metric, str) else None
        if (
            row is not None
            and row.table in model.entities
            and counts_rows_of(model, metric, row.table)
            and fans_out(metric)
        ):
            near = [m for m, other in model.metrics.items()
                    if m != metric and not other.filter and counts_rows_of(model, m, row.table) and not fans_out(m)]  # fmt: skip
            metric = near[0] if near else metric
        replaced.append(metric)
    return {**query, "metrics": replaced}


_QUALIFIED = re.compile(r"\b([a-z]+)\s+(?:whose|who|that|which)\b", re.I)
_COUNTED = re.compile(r"\b(how\s+many|number\s+of|count\s+of)\b", re.I)


def _with_listed_entity(
    query: dict[str, Any], question: str, shape: QuestionShape, model: SemanticModel
) -> dict[str, Any]:
    """The rows a threshold on their totals picks, listed: "customers whose total spend is above 20,000"
    are those customers, each with its total, not one total over all of them. The rows are the table
    named before "whose", "who" or "that"; they are shown by a dimension that tells them apart."""
    if not shape.thresholds or query.get("dimensions") or query.get("per") or _COUNTED.search(question):
        return query
    nouns = entity_nouns(model.entities)
    named = [
        nouns[w[0]] for m in _QUALIFIED.finditer(question) if (w := name_words(m.group(1))) and w[0] in nouns
    ]
    if not named:
        return query
    shown = [d for d in model.dimensions if model.tells_apart(d) == named[0]]
    return {**query, "dimensions": shown[:1]} if shown else query


def _with_threshold(query: dict[str, Any], shape: QuestionShape, model: SemanticModel) -> dict[str, Any]:
    """The one comparison with a number the wording makes ("spent over 10,000"), on the query's one metric
    when the model left it out: a threshold on totals, per group or per entity. A number followed by a
    noun for an entity the metric does not count ("more than 5 orders" beside revenue) is left alone."""
    metrics = query.get("metrics") or []
    if len(shape.thresholds) != 1 or len(metrics) != 1 or metrics[0] not in model.metrics:
        return query
    if not (shape.breakdown or query.get("per") or query.get("dimensions")):
        return query
    threshold = shape.thresholds[0]
    filters = [f for f in query.get("filters") or [] if isinstance(f, dict)]
    if any(f.get("value") == threshold.value for f in filters):
        return query
    unit = name_words(threshold.unit)[0] if name_words(threshold.unit) else ""
    nouns = entity_nouns(model.entities)
    if unit in nouns and not counts_rows_of(model, metrics[0], nouns[unit]):
        return query
    settled = {"field": metrics[0], "op": threshold.op, "value": threshold.value}
    return {**query, "filters": [*filters, settled]}


def adds_up(model: SemanticModel, names: Any) -> bool:
    """Whether each named metric is one SUM or COUNT, whose values over parts add up to the whole."""
    rows = [model.metrics[n] for n in names or [] if isinstance(n, str) and n in model.metrics]
    try:
        parsed = [sqlglot.parse_one(row.expression, read="duckdb") for row in rows]
    except sqlglot.errors.ParseError:
        return False
    return bool(parsed) and all(isinstance(node, (exp.Sum, exp.Count)) for node in parsed)


def rate_of_named(model: SemanticModel, metric: str, question: str) -> bool:
    """A metric whose definition picks a value the question names ("returned" for the return rate)."""
    row = model.metrics[metric]
    literals = _string_literals(row.expression) | _string_literals(row.filter or "")
    asked = set(name_words(question))
    return any(set(name_words(literal)) <= asked for literal in literals if name_words(literal))


def needs_per_entity(entity: PerEntity, query: Any, model: SemanticModel) -> bool:
    """A plain average of totals needs metrics that add up (sums, counts): "the average order value per
    customer" is a metric that averages already, broken down or not, not an average of averages."""
    if entity.aggregates != ("avg",):
        return True
    return adds_up(model, query.get("metrics") if isinstance(query, dict) else None)


def _in_order_named(metrics: list[str], question: str, model: SemanticModel) -> list[str]:
    """The metrics in the order the question names them ("cancelled to completed"): by where it first says
    a word of one metric's names that the other's lack."""
    words = {m: field_words(model, m) for m in metrics}
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
        if f.get("field") not in model.metrics and not redundant(f, rows)
    ]
    # a share needs a part smaller than the total: a breakdown or a filter on the rows
    if (
        shape.share
        and len(metrics) == 1
        and adds_up(model, metrics)
        and (query.get("dimensions") or dimension_filters)
    ):
        return {**query, "share": True, "percent": shape.percent}
    rates = [model.metrics[m] for m in metrics if m in model.metrics and model.metrics[m].format == "percent"]
    if shape.percent and rates and len(rates) == len(metrics):
        return {**query, "percent": True}  # "what % of orders were returned": the return rate times 100
    return query


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


def _string_literals(sql: str) -> set[str]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return set()
    return {literal.this.lower() for literal in tree.find_all(exp.Literal) if literal.is_string}


def redundant(condition: dict[str, Any], metrics: list[Any]) -> bool:
    """A filter on a value the metric's own definition already picks ("share returned" needs every order,
    and return_rate counts the returned ones itself)."""
    if condition.get("op") != "=" or not isinstance(condition.get("value"), str):
        return False
    value = condition["value"].lower()
    return any(value in _string_literals(m.expression) | _string_literals(m.filter or "") for m in metrics)


def named_metrics(question: str, model: SemanticModel) -> list[NamedMetric]:
    """The metrics a question names by their label, name or a synonym, with what their definitions need.

    Where phrases overlap the longest wins, and dimensions and columns compete too: "gross margin %" is
    not "gross margin", and "sales reps" or "unit price" name no sales or units metric.
    """
    candidates: list[tuple[str, list[str]]] = []
    for name, metric in model.metrics.items():
        candidates.append((name, [metric.label or "", name.replace("_", " "), *(metric.synonyms or [])]))
    for name, dimension in model.dimensions.items():
        candidates.append(("", [dimension.label or "", name.replace("_", " "), *(dimension.synonyms or [])]))
    columns = Column.objects.filter(table__source=model.source, table__name__in=model.tables)
    candidates += [
        ("", [c.name, f"{c.table.name} {c.name}", *(c.synonyms or [])])
        for c in columns.select_related("table")
    ]
    found: list[tuple[int, int, str]] = []
    for name, phrases in candidates:
        found += [(start, end, name) for start, end in phrase_spans(question, [p for p in phrases if p])]
    found.sort(key=lambda span: (span[0] - span[1], span[0]))
    taken: list[tuple[int, int]] = []
    named: list[str] = []
    for start, end, name in found:
        if not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
            if name:
                named.append(name)
    found = []
    for name in dict.fromkeys(named):
        metric = model.metrics[name]
        needs = metric_needs(metric.expression, metric.filter)
        found.append(NamedMetric(name, metric.label or name, needs, metric.definition))
    return found
