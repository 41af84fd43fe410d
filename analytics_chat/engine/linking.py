"""Schema linking: which tables, columns and stored values of a source a question is about.

Only enabled tables inside the request's scope are ever loaded, so nothing outside it can reach a prompt
or a grammar. Small schemas are kept whole (a 1.5B model does better seeing everything than missing a
table); larger ones are cut to the tables the question names, plus the tables that join them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlglot
from sqlglot import exp

from analytics_chat.pipeline.state import Turn
from catalog.join_graph import JoinGraph
from catalog.models import DataSource, Relationship, Table, enabled_source
from catalog.text import SCHEMA_STOPWORDS, content_words, name_words

# Schemas at most this big are shown whole.
SMALL_SCHEMA_TABLES = 8
SMALL_SCHEMA_COLUMNS = 60
# Shortest stored value matched against the question (shorter ones, like "M", match by accident).
MIN_VALUE_CHARS = 3


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str
    description: str = ""
    synonyms: tuple[str, ...] = ()
    is_primary_key: bool = False
    profile: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    description: str = ""
    row_count: int | None = None

    def column(self, name: str) -> ColumnInfo | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


@dataclass(frozen=True)
class Join:
    from_table: str
    from_column: str
    to_table: str
    to_column: str


@dataclass
class SchemaView:
    """The enabled tables of one source inside a scope, as plain data (no ORM objects leak out)."""

    source_name: str
    source_description: str
    tables: list[TableInfo]
    joins: list[Join]

    def table(self, name: str) -> TableInfo | None:
        lowered = name.lower()
        return next((t for t in self.tables if t.name.lower() == lowered), None)

    @cached_property
    def join_graph(self) -> JoinGraph[Join]:
        """The declared keys between the tables, as a graph."""
        return JoinGraph(self.joins)

    def names(self) -> dict[str, list[str]]:
        """{table: [column, ...]}: what a grammar may name."""
        return {t.name: [c.name for c in t.columns] for t in self.tables}

    def sqlglot_schema(self) -> dict[str, dict[str, str]]:
        """{table: {column: type}} for sqlglot's ``qualify``."""
        return {t.name: {c.name: c.data_type or "VARCHAR" for c in t.columns} for t in self.tables}

    @property
    def column_count(self) -> int:
        return sum(len(t.columns) for t in self.tables)


@dataclass(frozen=True)
class ValueMatch:
    """A literal of the question found among a column's stored values, with the stored spelling."""

    table: str
    column: str
    value: str
    mention: str


@dataclass
class LinkedSchema:
    scope: SchemaView  # everything the question may touch: the stable part of the prompt
    tables: list[TableInfo]  # what this question is linked to: the grammar's names
    joins: list[Join]
    value_matches: list[ValueMatch]
    table_scores: dict[str, float]
    pruned: bool

    def names(self) -> dict[str, list[str]]:
        return {t.name: [c.name for c in t.columns] for t in self.tables}

    @property
    def best_score(self) -> float:
        return max(self.table_scores.values(), default=0.0)


def load_scope(source: DataSource | str, tables: Sequence[str] | None = None) -> SchemaView:
    """The enabled tables (all, or the named ones) of an enabled source, with their columns and joins."""
    source = enabled_source(source)  # UnknownSource is a ValueError, as every bad scope here
    rows = list(Table.objects.filter(source=source, enabled=True).prefetch_related("columns"))
    if tables:
        by_name = {t.name.lower(): t for t in rows}
        unknown = [name for name in tables if name.lower() not in by_name]
        if unknown:
            raise ValueError(
                f"tables not found or disabled in {source.name!r}: {', '.join(unknown)}; "
                f"available: {', '.join(sorted(t.name for t in rows))}"
            )
        rows = [by_name[name.lower()] for name in dict.fromkeys(tables)]
    table_infos = [
        TableInfo(
            name=t.name,
            description=t.description,
            row_count=t.row_count,
            columns=[
                ColumnInfo(
                    name=c.name,
                    data_type=c.data_type,
                    description=c.description,
                    synonyms=tuple(c.synonyms or ()),
                    is_primary_key=c.is_primary_key,
                    profile=c.profile or {},
                )
                for c in sorted(t.columns.all(), key=lambda c: (c.ordinal, c.name))
            ],
        )
        for t in rows
    ]
    table_ids = [t.id for t in rows]
    relationships = Relationship.objects.filter(
        from_column__table_id__in=table_ids, to_column__table_id__in=table_ids
    ).select_related("from_column__table", "to_column__table")
    joins = [
        Join(r.from_column.table.name, r.from_column.name, r.to_column.table.name, r.to_column.name)
        for r in relationships
    ]
    return SchemaView(source.name, source.description, table_infos, joins)


def match_values(question: str, schema: SchemaView) -> list[ValueMatch]:
    """Stored text values that the question mentions (case-insensitive, whole words)."""
    lowered = question.lower()
    matches: list[ValueMatch] = []
    for table in schema.tables:
        for column in table.columns:
            for value in column.profile.get("distinct_values") or ():
                if not isinstance(value, str) or len(value.strip()) < MIN_VALUE_CHARS:
                    continue
                needle = value.strip().lower()
                found = re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", lowered)
                if found:
                    matches.append(
                        ValueMatch(table.name, column.name, value, question[found.start() : found.end()])
                    )
    # A value contained in a longer matched value ("Paris" inside "Paris Hilton") is dropped.
    return [
        m
        for m in matches
        if not any(
            other is not m and len(other.value) > len(m.value) and m.value.lower() in other.value.lower()
            for other in matches
        )
    ]


def _score_table(table: TableInfo, words: set[str]) -> float:
    score = 0.0
    table_words = set(name_words(table.name)) - SCHEMA_STOPWORDS
    score += 2.0 * len(table_words & words)
    score += 0.5 * len(content_words(table.description) & words)
    for column in table.columns:
        column_words = set(name_words(column.name)) - SCHEMA_STOPWORDS
        for synonym in column.synonyms:
            column_words |= content_words(synonym)
        score += 1.0 * len(column_words & words)
        score += 0.25 * len(content_words(column.description) & words)
    return score


def _tables_in_sql(sql: str | None) -> set[str]:
    if not sql:
        return set()
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return set()
    return {t.name.lower() for t in tree.find_all(exp.Table)}


def _connect(selected: set[str], graph: JoinGraph[Join]) -> set[str]:
    """Add the tables on the shortest join paths between the selected ones, so they can be joined."""
    result = set(selected)
    ordered = sorted(selected)
    for start in ordered:
        for goal in ordered:
            if goal > start:
                result |= {table.lower() for table in graph.path([start], goal)}
    return result


def link_schema(
    question: str,
    source: DataSource | str | SchemaView,
    tables: list[str] | None,
    history: list[Turn],
) -> LinkedSchema:
    """Pick the tables and stored values a question is about, keeping join keys so the tables connect."""
    if not question or not question.strip():
        raise ValueError("question is empty")
    scope = source if isinstance(source, SchemaView) else load_scope(source, tables)
    if not scope.tables:
        raise ValueError(f"no enabled tables in scope of {scope.source_name!r}")
    # Follow-ups ("only for Canada") lean on the previous question for what they are about.
    recent = history[-1:] if history else []
    link_text = " ".join([question, *(turn.ask for turn in recent)])
    value_matches = match_values(question, scope)
    words = content_words(link_text)
    scores = {t.name: _score_table(t, words) for t in scope.tables}
    for match in value_matches:
        scores[match.table] = scores.get(match.table, 0.0) + 3.0

    small = len(scope.tables) <= SMALL_SCHEMA_TABLES and scope.column_count <= SMALL_SCHEMA_COLUMNS
    if small:
        return LinkedSchema(scope, list(scope.tables), list(scope.joins), value_matches, scores, pruned=False)

    best = max(scores.values())
    selected = {name.lower() for name, score in scores.items() if score > 0 and score >= best / 4}
    for turn in recent:
        selected |= _tables_in_sql(turn.sql)
    if not selected:
        return LinkedSchema(scope, list(scope.tables), list(scope.joins), value_matches, scores, pruned=False)
    selected = _connect(selected, scope.join_graph)
    linked = [t for t in scope.tables if t.name.lower() in selected]
    joins = [j for j in scope.joins if j.from_table.lower() in selected and j.to_table.lower() in selected]
    return LinkedSchema(scope, linked, joins, value_matches, scores, pruned=len(linked) < len(scope.tables))
