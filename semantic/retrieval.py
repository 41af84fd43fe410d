"""Pick what the model should know for a question: statements, metrics, dimensions, tables and columns.

Matching is lexical: the question and each item are lower-cased, split into words and lightly stemmed
("orders" -> "order", "shipped" -> "ship"). An item scores when its name, label or synonyms appear in
the question (whole phrases count most), less for words of its description. Items are ranked by score
and kept while they fit the token budget (estimated as characters / 4). Statements marked
``always_include`` come first. Only enabled tables inside the requested scope are ever looked at, and a
metric, dimension or statement that touches any other table is left out: the scope is a security line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from django.db.models import Q

from catalog.column_types import is_date
from catalog.models import Column, DataSource, Relationship, Table
from catalog.text import SCHEMA_STOPWORDS, search_words
from semantic.models import Dimension, Metric, SemanticStatement

PHRASE_WEIGHT = 3.0  # a whole name, label, synonym or lookup phrase found in the question
WORD_WEIGHT = 1.0  # one word of those found
DESCRIPTION_WEIGHT = 0.3  # one word of the description found
TIME_CUE_WEIGHT = 1.0  # a time dimension, when the question is about time
MONTHS = "january february march april may june july august september october november december"
TIME_CUES = re.compile(
    r"\b((19|20)\d\d|q[1-4]|day|daily|week|weekly|month|monthly|quarter|quarterly|year|yearly|annual|"
    r"trend|over time|since|until|last|ago|ytd|" + "|".join(MONTHS.split()) + r")\b",
    re.I,
)


def _contains_phrase(question_words: list[str], phrase: str) -> bool:
    phrase_words = search_words(phrase)
    if not phrase_words:
        return False
    size = len(phrase_words)
    return any(question_words[i : i + size] == phrase_words for i in range(len(question_words) - size + 1))


def score(question_words: list[str], phrases: list[str], description: str = "") -> float:
    """How well the question matches an item's names (``phrases``) and description."""
    question_set = set(question_words)
    total = 0.0
    for phrase in phrases:
        if _contains_phrase(question_words, phrase):
            total += PHRASE_WEIGHT
    name_words = {w for phrase in phrases for w in search_words(phrase)}
    total += WORD_WEIGHT * len(name_words & question_set)
    total += DESCRIPTION_WEIGHT * len((set(search_words(description)) - name_words) & question_set)
    return total


def _names_a_word_of(question_words: list[str], metric: Metric) -> bool:
    """Whether the question says a word of the metric's name or label that names something.

    Aggregate and counting words ("average", "total", "number") do not: "average revenue per rep" is not
    about "Average days to ship".
    """
    own_words = set(search_words(f"{metric.name} {metric.label}")) - SCHEMA_STOPWORDS
    return bool(own_words & set(question_words))


def _tables_of(*snippets: str) -> set[str]:
    tables = set()
    for snippet in snippets:
        if snippet:
            try:
                parsed = sqlglot.parse_one(snippet, read="duckdb")
            except sqlglot.errors.ParseError:
                continue
            tables |= {column.table for column in parsed.find_all(sqlglot.exp.Column) if column.table}
    return tables


def _tokens(data: Any) -> int:
    return len(json.dumps(data, default=str)) // 4 + 1


@dataclass
class Ranked:
    item: Any
    score: float
    data: dict[str, Any]


@dataclass
class SemanticContext:
    """What retrieval found for one question, ready to be shown to the model and returned by the API."""

    question: str
    source: DataSource
    statements: list[Ranked] = field(default_factory=list)
    metrics: list[Ranked] = field(default_factory=list)
    dimensions: list[Ranked] = field(default_factory=list)
    tables: list[Ranked] = field(default_factory=list)
    relationships: list[dict[str, str]] = field(default_factory=list)
    token_estimate: int = 0
    # Metrics the question names (a word of a name or label) or that made the context, best
    # first: what the semantic path may choose from, whatever the token budget left out of the context.
    metric_candidates: list[str] = field(default_factory=list)

    def semantic_context_json(self) -> dict[str, Any]:
        """``response_data.semantic_context``: rules, metrics and dimensions, best match first."""
        return {
            "source": self.source.name,
            "statements": [r.data for r in self.statements],
            "metrics": [r.data for r in self.metrics],
            "dimensions": [r.data for r in self.dimensions],
        }

    def catalog_json(self) -> dict[str, Any]:
        """``response_data.catalog``: tables with their columns, and the relationships between them."""
        return {
            "source": self.source.name,
            "tables": [r.data for r in self.tables],
            "relationships": self.relationships,
        }

    @property
    def metric_names(self) -> list[str]:
        return [r.item.name for r in self.metrics]

    @property
    def table_names(self) -> list[str]:
        return [r.item.name for r in self.tables]


def _statement_data(statement: SemanticStatement) -> dict[str, Any]:
    data = {"name": statement.name, "text": statement.text, "scope": statement.scope}
    if statement.target:
        data["target"] = statement.target
    if statement.labels:
        data["labels"] = statement.labels
    return data


def _metric_data(metric: Metric) -> dict[str, Any]:
    data = {
        "name": metric.name,
        "label": metric.label,
        "description": metric.description,
        "expression": metric.expression,
        "table": metric.table,
        "format": metric.format,
    }
    if metric.filter:
        data["filter"] = metric.filter
    if metric.synonyms:
        data["synonyms"] = metric.synonyms
    return data


def _dimension_data(dimension: Dimension) -> dict[str, Any]:
    data = {
        "name": dimension.name,
        "label": dimension.label,
        "description": dimension.description,
        "expression": dimension.expression,
        "table": dimension.table,
        "kind": dimension.kind,
    }
    if dimension.time_grains:
        data["time_grains"] = dimension.time_grains
    return data


def _column_data(column: Column) -> dict[str, Any]:
    data: dict[str, Any] = {"name": column.name, "type": column.data_type}
    if column.description:
        data["description"] = column.description
    if column.is_primary_key:
        data["pk"] = True
    if column.synonyms:
        data["synonyms"] = column.synonyms
    profile = column.profile or {}
    if profile.get("distinct_values"):
        data["values"] = profile["distinct_values"]
    if is_date(column.data_type) and profile.get("min"):
        data["range"] = [str(profile["min"]), str(profile.get("max"))]  # so "last year" can be resolved
    return data


def _table_data(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "description": table.description,
        "row_count": table.row_count,
        "columns": [_column_data(column) for column in table.columns.all()],
    }


def _best(ranked: list[Ranked], share: float = 0.5, most: int = 3) -> list[Ranked]:
    """The top matches: those scoring at least ``share`` of the best score."""
    top = max((r.score for r in ranked), default=0)
    return sorted((r for r in ranked if r.score > 0 and r.score >= share * top), key=lambda r: -r.score)[
        :most
    ]


def _in_priority_order(
    statements: list[Ranked],
    metrics: list[Ranked],
    dimensions: list[Ranked],
    tables: list[Ranked],
    uses: dict[str, set[str]],
) -> list[tuple[str, Ranked]]:
    """What to spend the budget on first: always-included rules, the best metric, dimensions and rules,
    and the tables those need; then everything else by score (tables first among non-matches, as the
    model cannot write SQL without them)."""
    first = [("statements", r) for r in statements if r.score == float("inf")]
    by_score = sorted(tables, key=lambda r: -r.score)
    for kind, best in (("metrics", _best(metrics, share=1.0, most=1)), ("dimensions", _best(dimensions))):
        first += [(kind, r) for r in best]
        needed = {table for r in best for table in uses[r.item.name]}
        taken = {id(r) for _, r in first}
        first += [("tables", r) for r in by_score if r.item.name in needed and id(r) not in taken]
    first += [("statements", r) for r in _best([r for r in statements if r.score != float("inf")], most=2)]
    chosen = {id(r) for _, r in first}
    order = {"statements": 0, "tables": 1, "metrics": 2, "dimensions": 3}
    rest = [
        (kind, r)
        for kind, items in (
            ("statements", statements),
            ("metrics", metrics),
            ("dimensions", dimensions),
            ("tables", tables),
        )
        for r in items
        if id(r) not in chosen
    ]
    rest.sort(key=lambda pair: (-(pair[1].score > 0), -pair[1].score, order[pair[0]], pair[1].item.name))
    return first + rest


def statements_in_scope(source: DataSource, in_scope: set[str]) -> list[SemanticStatement]:
    """The enabled statements of a source (and global ones) that touch no table outside ``in_scope``.

    A statement that names a table outside the scope is left out whole, rather than shown in part.
    """
    hidden = set(source.tables.values_list("name", flat=True)) - in_scope
    mentions_hidden = re.compile(r"\b(" + "|".join(map(re.escape, hidden)) + r")\b", re.I) if hidden else None
    return [
        statement
        for statement in SemanticStatement.objects.filter(Q(source=source) | Q(source=None), enabled=True)
        if not (statement.target_table and statement.target_table not in in_scope)
        and not (mentions_hidden and mentions_hidden.search(statement.text))
    ]


def retrieve_context(
    question: str, source: DataSource, tables: list[str] | None = None, token_budget: int = 800
) -> SemanticContext:
    """Rank what is relevant to ``question`` on ``source`` (limited to ``tables`` when given)."""
    question_words = search_words(question)
    table_rows = _tables_in_scope(source, tables)
    in_scope = set(table_rows)
    metrics, metric_uses = _rank_metrics(source, in_scope, question_words)
    dimensions, dimension_uses = _rank_dimensions(source, in_scope, question, question_words, metrics)
    # item name -> the tables it needs (a dimension named like a metric speaks for both)
    uses = {**metric_uses, **dimension_uses}
    statements = _rank_statements(source, in_scope, question_words)
    found_tables = _rank_tables(table_rows, question_words, metrics + dimensions, uses)

    context = SemanticContext(question=question, source=source)
    _fill_budget(
        context, _in_priority_order(statements, metrics, dimensions, found_tables, uses), token_budget
    )
    shown = {r.item.name for r in context.metrics if r.score > 0}
    context.metric_candidates = [
        r.item.name for r in metrics if r.item.name in shown or _names_a_word_of(question_words, r.item)
    ]
    context.relationships = _relationships_between(source, set(context.table_names))
    return context


def _tables_in_scope(source: DataSource, tables: list[str] | None) -> dict[str, Table]:
    """The enabled tables of the source (only ``tables``, when given) by name, with their columns.

    Nothing outside these is ever looked at: the scope is a security line.
    """
    scope_tables = source.tables.filter(enabled=True).prefetch_related("columns")
    if tables:
        scope_tables = scope_tables.filter(name__in=tables)
    return {table.name: table for table in scope_tables}


def _rank_metrics(
    source: DataSource, in_scope: set[str], question_words: list[str]
) -> tuple[list[Ranked], dict[str, set[str]]]:
    """The metrics built on scope tables only, best match first, and the tables each needs."""
    metrics = []
    uses: dict[str, set[str]] = {}
    for metric in Metric.objects.filter(source=source):
        needed = _tables_of(metric.expression, metric.filter) | {metric.table}
        if needed <= in_scope:
            uses[metric.name] = needed
            phrases = [metric.name, metric.label, *metric.synonyms]
            relevance = score(question_words, phrases, metric.description)
            metrics.append(Ranked(metric, relevance, _metric_data(metric)))
    metrics.sort(key=lambda r: -r.score)
    return metrics, uses


def _rank_dimensions(
    source: DataSource, in_scope: set[str], question: str, question_words: list[str], metrics: list[Ranked]
) -> tuple[list[Ranked], dict[str, set[str]]]:
    """The dimensions built on scope tables only, scored, and the tables each needs.

    "in 2024", "per month", "trend": a question about time makes time dimensions matter, most of all the
    default time dimension of the best metric (``metrics`` come best first).
    """
    about_time = bool(TIME_CUES.search(question))
    default_time = next(
        (r.item.time_dimension for r in metrics if r.score > 0 and r.item.time_dimension), None
    )
    dimensions = []
    uses: dict[str, set[str]] = {}
    for dimension in Dimension.objects.filter(source=source):
        needed = _tables_of(dimension.expression) | {dimension.table}
        if needed <= in_scope:
            uses[dimension.name] = needed
            phrases = [dimension.name, dimension.label, *dimension.synonyms]
            relevance = score(question_words, phrases, dimension.description)
            if about_time and dimension.kind == Dimension.Kind.TIME:
                relevance += TIME_CUE_WEIGHT * (2 if dimension.name == default_time else 0.5)
            dimensions.append(Ranked(dimension, relevance, _dimension_data(dimension)))
    return dimensions, uses


def _rank_statements(source: DataSource, in_scope: set[str], question_words: list[str]) -> list[Ranked]:
    """The scope's rules the question matches, and those marked ``always_include`` (scored infinite)."""
    statements = []
    for statement in statements_in_scope(source, in_scope):
        relevance = score(question_words, [*statement.lookup_phrases, *statement.labels])
        if statement.always_include or relevance > 0:
            relevance = float("inf") if statement.always_include else relevance
            statements.append(Ranked(statement, relevance, _statement_data(statement)))
    return statements


def _rank_tables(
    table_rows: dict[str, Table], question_words: list[str], built: list[Ranked], uses: dict[str, set[str]]
) -> list[Ranked]:
    """A table matters for its own words, its columns' words and the metrics and dimensions (``built``)
    that are built on it."""
    found_tables = []
    for name, table in table_rows.items():
        phrases = [
            name,
            *[c.name for c in table.columns.all()],
            *[s for c in table.columns.all() for s in c.synonyms],
        ]
        relevance = score(question_words, phrases, table.description)
        relevance += 0.5 * max((r.score for r in built if name in uses[r.item.name]), default=0)
        found_tables.append(Ranked(table, relevance, _table_data(table)))
    return found_tables


def _fill_budget(context: SemanticContext, prioritized: list[tuple[str, Ranked]], token_budget: int) -> None:
    """Put items into ``context`` in priority order while they fit the token budget, each list kept best
    first. An item too big for what is left is skipped, so smaller ones after it may still fit."""
    budget = token_budget
    for kind, ranked in prioritized:
        cost = _tokens(ranked.data)
        if cost > budget:
            continue
        budget -= cost
        getattr(context, kind).append(ranked)
        getattr(context, kind).sort(key=lambda r: -r.score)
    context.token_estimate = token_budget - budget


def _relationships_between(source: DataSource, kept: set[str]) -> list[dict[str, str]]:
    """The declared relationships of the source whose two tables are both in the context."""
    relationships = []
    for relation in Relationship.objects.filter(from_column__table__source=source).select_related(
        "from_column__table", "to_column__table"
    ):
        left, right = relation.from_column, relation.to_column
        if left.table.name in kept and right.table.name in kept:
            relationships.append(
                {
                    "from": f"{left.table.name}.{left.name}",
                    "to": f"{right.table.name}.{right.name}",
                    "cardinality": relation.cardinality,
                }
            )
    return relationships
