"""Every prompt of the engine (SQL path, semantic path, the benchmark's baseline), in one place.

The system message depends only on the source and the scope (instructions, compact DDL with keys,
descriptions and a few stored values, generic examples), so llama.cpp reads it once per source and reuses
its KV state. Everything that depends on the question goes into the user message after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING, Any

from analytics_chat.engine.grammar import quote_identifier
from analytics_chat.engine.linking import ColumnInfo, LinkedSchema, SchemaView, TableInfo, ValueMatch
from analytics_chat.engine.shape import PERCENT_WORDS
from analytics_chat.pipeline.state import Turn
from catalog.models import DataSource
from semantic.models import grains_of

if TYPE_CHECKING:  # semantic_path imports this module
    from analytics_chat.engine.semantic_path import Mention

CANNOT_ANSWER = "CANNOT_ANSWER"
SAMPLE_VALUES = 4  # stored values shown per text column
SAMPLE_VALUE_CHARS = 40

# "SQLite dialect": small models learnt text-to-SQL mostly on SQLite (Spider-style) data and reason best
# in it; sqlglot reads that dialect and writes DuckDB. Measured on the Spider sample: 103/133 against
# 102 when asked for DuckDB SQL.
SYSTEM_TEMPLATE = Template(
    """You are an expert data analyst. You write one SQL query (SQLite dialect) that answers the user's question \
about the database below. Rules:
- Use only the tables and columns listed below, spelled exactly as shown.
- When a column of another table is needed, JOIN on the keys shown (REFERENCES).
- Prefix columns with their table name when the query has more than one table.
- Compare text with the stored spelling of the value.
- Select only what the question asks for, in the order it asks.
- If the database cannot answer the question, write exactly: SELECT '$cannot'

Example (another database):
CREATE TABLE author (author_id BIGINT PRIMARY KEY, name VARCHAR, country VARCHAR);
CREATE TABLE book (book_id BIGINT PRIMARY KEY, title VARCHAR, author_id BIGINT REFERENCES author(author_id), price DOUBLE);
Question: Which authors from Italy have written more than two books?
SQL: SELECT author.name FROM author JOIN book ON book.author_id = author.author_id WHERE author.country = 'Italy' \
GROUP BY author.author_id, author.name HAVING count(*) > 2
Question: What is the title of the most expensive book?
SQL: SELECT title FROM book ORDER BY price DESC LIMIT 1
Question: What is the weather tomorrow?
SQL: SELECT '$cannot'

Database $source:
$ddl$business"""
)

BUSINESS_TEMPLATE = Template(
    """

Business definitions of this database (when the question names one, compute it exactly so):
$metrics$rules"""
)

USER_TEMPLATE = Template("""$context${history}${hints}Question: $question""")

HISTORY_TEMPLATE = Template(
    """Previous question: $ask
Previous SQL: $sql
The new question may refine the previous one (a filter, another grouping, a different measure): \
then rewrite the previous SQL accordingly.
"""
)

CORRECTION_TEMPLATE = Template(
    """$problem
$error
Valid tables and columns:
$names
Write a corrected query for the question: $question"""
)


def _sample_comment(column: ColumnInfo) -> str:
    profile: dict[str, Any] = column.profile or {}
    parts: list[str] = []
    if column.description:
        parts.append(column.description.strip().replace("\n", " "))
    if column.synonyms:
        parts.append("also called " + ", ".join(column.synonyms))
    values = profile.get("distinct_values")
    if values:
        shown = [repr(str(v)[:SAMPLE_VALUE_CHARS]) for v in values[:SAMPLE_VALUES]]
        more = ", ..." if len(values) > SAMPLE_VALUES else ""
        parts.append("values: " + ", ".join(shown) + more)
    elif profile.get("min") is not None and profile.get("max") is not None:
        parts.append(f"from {profile['min']} to {profile['max']}")
    return " -- " + "; ".join(parts) if parts else ""


def table_ddl(table: TableInfo, references: dict[str, tuple[str, str]]) -> str:
    """A compact CREATE TABLE with keys, one column per line with a comment of descriptions and values."""
    lines: list[str] = []
    if table.description:
        lines.append("-- " + table.description.strip().replace("\n", " "))
    lines.append(f"CREATE TABLE {quote_identifier(table.name)} (")
    keys = [c.name for c in table.columns if c.is_primary_key]
    for index, column in enumerate(table.columns):
        definition = f"  {quote_identifier(column.name)} {column.data_type or 'VARCHAR'}"
        if keys == [column.name]:
            definition += " PRIMARY KEY"
        target = references.get(column.name.lower())
        if target:
            definition += f" REFERENCES {quote_identifier(target[0])}({quote_identifier(target[1])})"
        comma = "," if index < len(table.columns) - 1 or len(keys) > 1 else ""
        lines.append(definition + comma + _sample_comment(column))
    if len(keys) > 1:
        lines.append(f"  PRIMARY KEY ({', '.join(quote_identifier(k) for k in keys)})")
    lines.append(");")
    return "\n".join(lines)


def schema_ddl(schema: SchemaView) -> str:
    blocks = []
    for table in schema.tables:
        references = {
            j.from_column.lower(): (j.to_table, j.to_column)
            for j in schema.joins
            if j.from_table.lower() == table.name.lower()
        }
        blocks.append(table_ddl(table, references))
    return "\n".join(blocks)


def business_context(schema: SchemaView) -> str:
    """The semantic layer's metric definitions and business rules for the tables in scope, so that a
    question the semantic layer cannot express still counts revenue the way the business does."""
    from semantic.compiler import SemanticModel
    from semantic.retrieval import statements_in_scope

    source = DataSource.objects.filter(name=schema.source_name).first()
    if source is None:
        return ""
    model = SemanticModel(source, [t.name for t in schema.tables])
    lines = []
    for name, metric in model.metrics.items():
        also = f" (also: {', '.join(metric.synonyms[:3])})" if metric.synonyms else ""
        lines.append(f"- {metric.label or name}{also}: {metric.definition}")
    statements = sorted(statements_in_scope(source, model.tables), key=lambda s: s.name)
    rules = "".join(f"- {s.text.strip()}\n" for s in statements)
    if not lines and not rules:
        return ""
    return BUSINESS_TEMPLATE.substitute(metrics="\n".join(lines) + "\n", rules=rules).rstrip()


def system_prompt(schema: SchemaView) -> str:
    """Stable for a source and scope: the cacheable prefix."""
    heading = schema.source_name + (
        f" ({schema.source_description.strip()})" if schema.source_description else ""
    )
    return SYSTEM_TEMPLATE.substitute(
        cannot=CANNOT_ANSWER, source=heading, ddl=schema_ddl(schema), business=business_context(schema)
    )


def _value_hints(matches: Sequence[ValueMatch]) -> str:
    if not matches:
        return ""
    lines = [
        f"- {quote_identifier(m.table)}.{quote_identifier(m.column)} = '{m.value.replace(chr(39), chr(39) * 2)}'"
        for m in matches
    ]
    return "Values in the question, as stored:\n" + "\n".join(lines) + "\n"


def _example_block(examples: Sequence[tuple[str, str]]) -> str:
    if not examples:
        return ""
    lines = ["Examples on this database:"]
    for question, sql in examples:
        lines.append(f"Question: {question}\nSQL: {sql}")
    return "\n".join(lines) + "\n"


def user_prompt(
    question: str,
    linked: LinkedSchema,
    history: Sequence[Turn] = (),
    examples: Sequence[tuple[str, str]] = (),
    hints: Sequence[str] = (),
) -> str:
    """The question-specific part: linked tables, matched values, examples, previous turn, the question."""
    context = ""
    if linked.pruned:
        context += "Relevant tables: " + ", ".join(quote_identifier(t.name) for t in linked.tables) + "\n"
    context += _value_hints(linked.value_matches)
    context += _example_block(examples)
    previous = next((turn for turn in reversed(history) if turn.sql), None)
    history_text = HISTORY_TEMPLATE.substitute(ask=previous.ask, sql=previous.sql) if previous else ""
    hint_text = "".join(f"Note: {hint}\n" for hint in hints)
    return USER_TEMPLATE.substitute(
        context=context, history=history_text, hints=hint_text, question=question.strip()
    )


def sql_messages(
    question: str,
    linked: LinkedSchema,
    history: Sequence[Turn] = (),
    examples: Sequence[tuple[str, str]] = (),
    hints: Sequence[str] = (),
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system_prompt(linked.scope)},
        {"role": "user", "content": user_prompt(question, linked, history, examples, hints)},
    ]


# "the value of an order", "per customer", "each paying customer ... in total": a statistic of totals
_PER_ENTITY = re.compile(
    r"\b((value|total|amount|size)\s+of\s+(an?|each)|per|each|their\s+total|in\s+total)\b", re.I
)


def sql_hints(question: str, facts: Sequence[Any]) -> list[str]:
    """How to write what the question asks for in SQL, for the kinds of statement it makes (a percentile,
    a share, a weekday, a negation, a list): a line each, in the question's part of the prompt."""
    from analytics_chat.engine import accounting as A

    hints: list[str] = []
    kinds = {fact.kind for fact in facts}
    for fact in facts:
        if fact.kind == A.PERCENTILE:
            if fact.value:
                share = int(fact.value) / 100
                hints.append(f"the {fact.value}th percentile of x is quantile_cont(x, {share:g})")
            else:
                hints.append("the median of x is median(x)")
    if (A.PERCENTILE in kinds or A.AVERAGE in kinds) and _PER_ENTITY.search(question):
        hints.append(
            "a median, percentile or average of totals per order (or per customer, ...) first sums each one in "
            "a subquery: SELECT median(total) FROM (SELECT order_id, SUM(...) AS total FROM ... GROUP BY order_id)"
        )
    hints += [
        f"{fact.text} is {fact.definition}" for fact in facts if fact.kind == A.METRIC and fact.definition
    ]
    if A.DIVISION in kinds:
        hints.append(
            "a share or rate is a division: SUM(CASE WHEN condition THEN x ELSE 0 END) / SUM(x), or "
            "AVG(CASE WHEN condition THEN 1.0 ELSE 0.0 END)"
            + ("; multiply by 100 for a percentage" if PERCENT_WORDS.search(question) else "")
        )
    for fact in facts:
        if fact.kind == A.TIMES:
            compared = f"> {fact.value} (< for fewer)" if "than" in fact.text.lower() else f"= {fact.value}"
            groups = f"SELECT key FROM ... GROUP BY key HAVING COUNT(*) {compared}"
            hints.append(
                f"'{fact.text}' compares a count of rows per group: "
                + (f"SELECT COUNT(*) FROM ({groups})" if A.ONE_FIGURE in kinds else groups)
            )
    if A.WEEKDAY in kinds:
        hints.append("the weekday of a date d is dayname(d)")
    if A.MONTH_OF_YEAR in kinds:
        hints.append("the calendar month (1 to 12) of a date d is month(d)")
    if A.NEGATION in kinds:
        hints.append(
            "rows that have no matching row elsewhere: NOT EXISTS (SELECT ...) or NOT IN (SELECT ...)"
        )
    if A.ROWS in kinds:
        hints.append("the question asks for a list of rows, not a total")
    return list(dict.fromkeys(hints))


QUERY_FAILED = "The query failed:"
# A query that runs but leaves out a number, a name, a period or the aggregate the question states.
INCOMPLETE = "The query does not answer the whole question."
# A query that runs but finds nothing usually compares with a misspelt value or joins on the wrong keys.
NO_ROWS = "The query ran but returned no rows, and the question expects some."
NO_ROWS_HINT = (
    "Check each compared value against the stored values, each join against the keys shown, and the "
    "logic: rows that must match two different values of one column need INTERSECT of two queries; "
    '"without any" needs NOT IN.'
)


@dataclass(frozen=True)
class Correction:
    draft_sql: str
    error: str
    problem: str = QUERY_FAILED


def correction_messages(
    messages: list[dict[str, str]], question: str, linked: LinkedSchema, correction: Correction
) -> list[dict[str, str]]:
    """The first exchange, the failed draft as the model's answer, then the exact error and valid names."""
    names = "\n".join(
        f"{quote_identifier(t.name)}: " + ", ".join(quote_identifier(c.name) for c in t.columns)
        for t in linked.tables
    )
    follow = CORRECTION_TEMPLATE.substitute(
        problem=correction.problem, error=correction.error.strip(), names=names, question=question.strip()
    )
    return [
        *messages,
        {"role": "assistant", "content": correction.draft_sql},
        {"role": "user", "content": follow},
    ]


# --- the semantic path ---------------------------------------------------------------------------------
# The system message lists the source's metrics and dimensions (stable per source and scope, so its KV
# state is reused); the examples are generated from the same model's own names, not written per question.

SEMANTIC_SYSTEM_TEMPLATE = Template(
    """You turn questions about the $source data into a semantic query in JSON: which metrics to compute, \
by which dimensions, with which filters, time grain, time range, ordering and limit.

Metrics (what can be measured):
$metrics

Dimensions (what to group or filter by):
$dimensions
$span$business
Rules:
- "by X", "per X", "for each X", "breakdown by X" put X in dimensions.
- "monthly", "per month", "by quarter", "each year", "trend" set time_grain and put the time dimension in dimensions.
- A period is time_range: a year "2024", a quarter "2024-Q2", a month "2024-03", or {"start": "2024-01-15", "end": "2024-02-15"} (inclusive).
- "top N", "most", "highest", "best" order by the metric descending with limit N (1 for "which ... the most"); \
"lowest", "least" order ascending.
- Filters compare a dimension with a stored value, spelled exactly as listed.
- Use only the names listed above. Leave out the parts the question does not need.

$examples"""
)

SEMANTIC_USER_TEMPLATE = Template("""$rules${history}Question: $question""")

SEMANTIC_HISTORY_TEMPLATE = Template(
    """Previous question: $ask
Previous query: $query
The new question may refine the previous one (another grouping, a filter, a different metric or period): \
then change the previous query accordingly and keep the rest.
"""
)


def _semantic_item_line(name: str, row: Any, values: Sequence[Any] | None = None) -> str:
    line = f"- {name}: {row.label or name}"
    if row.description:
        line += f" - {row.description.strip()}"
    if getattr(row, "synonyms", None):
        line += f" (also: {', '.join(row.synonyms)})"
    if getattr(row, "kind", "") == "time":
        line += f" [time; grains: {', '.join(grains_of(row.time_grains or []))}]"
    if values:
        shown = ", ".join(repr(str(v)[:SAMPLE_VALUE_CHARS]) for v in values[:12])
        line += f" values: {shown}{', ...' if len(values) > 12 else ''}"
    return line


def _semantic_examples(vocab: Any) -> str:
    """Three worked examples built from this source's own first metric and dimensions."""
    metrics = list(vocab.model.metrics.values())
    categorical = [d for d in vocab.model.dimensions.values() if d.kind != "time"]
    time_dims = [
        d for d in vocab.model.dimensions.values() if d.kind == "time" and "month" in (d.time_grains or [])
    ]
    if not metrics or not categorical:
        return ""
    metric, dimension = metrics[0], categorical[0]
    empty: dict[str, Any] = {}  # the model writes only the parts a question needs
    shots = [
        (
            f"{metric.label or metric.name} by {(dimension.label or dimension.name).lower()}",
            {**empty, "metrics": [metric.name], "dimensions": [dimension.name]},
        ),
        (
            f"Top 3 {(dimension.label or dimension.name).lower()} values by {(metric.label or metric.name).lower()}",
            {**empty, "metrics": [metric.name], "dimensions": [dimension.name],
             "order_by": [{"field": metric.name, "direction": "desc"}], "limit": 3},
        ),
    ]  # fmt: skip
    if time_dims and vocab.time_span:
        year = vocab.time_span[0][:4]
        shots.append(
            (
                f"Monthly {(metric.label or metric.name).lower()} in {year}",
                {
                    **empty,
                    "metrics": [metric.name],
                    "dimensions": [time_dims[0].name],
                    "time_grain": "month",
                    "time_range": year,
                },
            )
        )
    if vocab.time_span:
        year = vocab.time_span[0][:4]
        shots.append(
            (
                f"Total {(metric.label or metric.name).lower()} in {year}",
                {"metrics": [metric.name], "time_range": year},
            )
        )
    values = vocab.values.get(dimension.name)
    if values:
        shots.append(
            (
                f"{metric.label or metric.name} for {values[0]}",
                {
                    **empty,
                    "metrics": [metric.name],
                    "filters": [{"field": dimension.name, "op": "=", "value": values[0]}],
                },
            )
        )
    return "Examples:\n" + "\n".join(f"Question: {q}\nQuery: {json.dumps(a)}" for q, a in shots)


def _compact(query: dict[str, Any]) -> dict[str, Any]:
    """A semantic query without its empty or unset parts (``"share": false``), as the examples show them."""
    return {k: v for k, v in query.items() if v not in (None, [], {}) and v is not False}


def semantic_system_prompt(vocab: Any) -> str:
    model = vocab.model
    span = f"\nThe data runs from {vocab.time_span[0]} to {vocab.time_span[1]}.\n" if vocab.time_span else ""
    return SEMANTIC_SYSTEM_TEMPLATE.substitute(
        source=model.source.name,
        metrics="\n".join(_semantic_item_line(n, m) for n, m in model.metrics.items()),
        dimensions="\n".join(
            _semantic_item_line(n, d, vocab.values.get(n)) for n, d in model.dimensions.items()
        ),
        span=span,
        business="".join(["\nBusiness rules:\n", *(f"- {s.strip()}\n" for s in vocab.statements)])
        if vocab.statements
        else "",
        examples=_semantic_examples(vocab),
    )


def semantic_messages(
    question: str,
    vocab: Any,
    history: Sequence[Turn] = (),
    examples: Sequence[tuple[str, dict[str, Any]]] = (),
    mentions: Sequence[Mention] = (),
) -> list[dict[str, str]]:
    rules = ""
    if mentions:
        rules += (
            "Values in the question, as stored: "
            + ", ".join(f"{m.dimension} = {json.dumps(m.value)}" for m in mentions)
            + "\n"
        )
    rules += "".join(f"Example: {q}\nQuery: {json.dumps(_compact(a))}\n" for q, a in examples)
    previous = next((turn for turn in reversed(history) if turn.semantic_query), None)
    history_text = (
        SEMANTIC_HISTORY_TEMPLATE.substitute(
            ask=previous.ask, query=json.dumps(_compact(previous.semantic_query or {}))
        )
        if previous
        else ""
    )
    return [
        {"role": "system", "content": semantic_system_prompt(vocab)},
        {
            "role": "user",
            "content": SEMANTIC_USER_TEMPLATE.substitute(
                rules=rules, history=history_text, question=question.strip()
            ),
        },
    ]


# --- the baseline the benchmark compares against ---------------------------------------------------
# The plain approach: the full schema as bare DDL, the question, free text out. No grammar, no linking,
# no value hints, no examples; the benchmark also defeats prefix reuse for it.

BASELINE_TEMPLATE = Template(
    """Write one DuckDB SQL query that answers the question about this database.

$ddl

Question: $question
Answer with the SQL query only."""
)


def baseline_messages(question: str, schema: SchemaView) -> list[dict[str, str]]:
    ddl = "\n".join(
        f"CREATE TABLE {quote_identifier(t.name)} ("
        + ", ".join(f"{quote_identifier(c.name)} {c.data_type or 'VARCHAR'}" for c in t.columns)
        + ");"
        for t in schema.tables
    )
    return [{"role": "user", "content": BASELINE_TEMPLATE.substitute(ddl=ddl, question=question.strip())}]
