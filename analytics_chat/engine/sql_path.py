"""The SQL path: question -> linked schema -> grammar-constrained draft -> checked DuckDB SQL.

A draft is parsed by sqlglot (DuckDB first, then the dialects small models drift into), transpiled to
DuckDB, passed through the read-only guard (which qualifies every column against the catalog) and bound
by DuckDB's EXPLAIN. A failure gets exactly one correction round that shows the model the error text and
the valid names; a draft that passes but finds no rows gets that round instead.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlglot
from sqlglot import exp

from analytics_chat.engine.accounting import Fact, describe_missing, unaccounted
from analytics_chat.engine.grammar import build_sql_grammar
from analytics_chat.engine.linking import LinkedSchema, link_schema
from analytics_chat.engine.prompts import (
    CANNOT_ANSWER,
    INCOMPLETE,
    NO_ROWS,
    NO_ROWS_HINT,
    Correction,
    correction_messages,
    sql_hints,
    sql_messages,
)
from analytics_chat.engine.repairs import BEFORE_GUARD, QUALIFIED, apply_repairs, describe_misplaced_columns
from analytics_chat.errors import ErrorCode
from analytics_chat.llm.base import (
    CancelToken,
    GenerationAborted,
    GenerationOptions,
    GenerationResult,
    TextCallback,
    TextGenerator,
)
from analytics_chat.pipeline.state import StageError, Turn
from catalog.execution import QueryError, explain, run_query
from catalog.guard import GuardError, check_sql
from catalog.models import DataSource, UnknownSource, enabled_source

READ_DIALECTS = ("duckdb", "sqlite", "postgres", "mysql")
DEFAULT_MAX_TOKENS = 256
_FENCE = re.compile(r"^```(?:sql)?\s*|\s*```$", re.IGNORECASE)


@dataclass
class SqlDraft:
    sql: str  # checked DuckDB SQL, every column qualified
    attempts: list[dict[str, Any]] = field(default_factory=list)  # [{"sql", "error"}], failed drafts only
    generations: list[GenerationResult] = field(default_factory=list)
    linked: LinkedSchema | None = None


class DraftError(Exception):
    """A draft that cannot run; the message is what the model sees in the correction round."""


def _resolve_source(source: DataSource | str) -> DataSource:
    try:
        return enabled_source(source)
    except UnknownSource as error:
        name = source if isinstance(source, str) else source.name
        raise StageError(ErrorCode.UNKNOWN_SCOPE, str(error), source=name) from None


def parse_any_dialect(text: str) -> exp.Expression:
    """The draft as a DuckDB AST, reading DuckDB first and then common dialects."""
    errors = []
    for dialect in READ_DIALECTS:
        try:
            statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
        except sqlglot.errors.SqlglotError as error:
            errors.append(f"{dialect}: {str(error).splitlines()[0]}")
            continue
        if len(statements) != 1:
            raise DraftError(f"expected one SQL query, got {len(statements)}")
        return cast(exp.Expression, statements[0])  # sqlglot types its trees as the base class Expr
    raise DraftError("the SQL does not parse: " + errors[0])


def is_cannot_answer(tree: exp.Expression) -> bool:
    """The model's way out, ``SELECT 'CANNOT_ANSWER'``: a FROM-less select of that literal."""
    if not isinstance(tree, exp.Select) or tree.args.get("from_"):
        return False
    return any(isinstance(e, exp.Literal) and e.this == CANNOT_ANSWER for e in tree.find_all(exp.Literal))


def check_draft(text: str, linked: LinkedSchema, source: DataSource, question: str = "") -> str:
    """Checked DuckDB SQL for a draft, or DraftError with the exact problem; StageError if unanswerable."""
    cleaned = _FENCE.sub("", text.strip()).strip().rstrip(";").strip()
    if not cleaned:
        raise DraftError("the model wrote no SQL")
    tree = parse_any_dialect(cleaned)
    if is_cannot_answer(tree):
        raise StageError(
            ErrorCode.CANNOT_ANSWER,
            "This question cannot be answered from the data in scope.",
            tables=[t.name for t in linked.scope.tables],
        )
    tree = apply_repairs(BEFORE_GUARD, tree, schema=linked, question=question)
    misplaced = describe_misplaced_columns(tree, linked)
    if misplaced:
        raise DraftError("\n".join(misplaced))
    try:
        guarded = check_sql(tree.sql(dialect="duckdb"), allowed_tables=linked.scope.names())
        repaired = apply_repairs(
            QUALIFIED, cast(exp.Expression, guarded.expression), schema=linked, question=question
        )
        if repaired != guarded.expression:
            guarded = check_sql(repaired.sql(dialect="duckdb"), allowed_tables=linked.scope.names())
    except GuardError as error:
        raise DraftError(error.message) from error
    try:
        explain(source, guarded.sql)
    except QueryError as error:
        raise DraftError(str(error)) from error
    return guarded.sql


def finds_rows(source: DataSource, sql: str) -> bool:
    """Whether checked SQL returns at least one row that is not all NULL (``max`` over no rows is one
    NULL row). Runs ``SELECT * FROM (sql) LIMIT 1``, so nothing beyond one row is computed or counted."""
    probe = (
        exp.select("*")
        .from_(cast(exp.Query, sqlglot.parse_one(sql, read="duckdb")).subquery("probe"))
        .limit(1)
    )
    try:
        result = run_query(source, probe.sql(dialect="duckdb"), row_cap=1)
    except QueryError:
        return True  # the execute stage reports it; a probe is no reason to rewrite
    return any(value is not None for row in result.rows for value in row)


def _generation_options(options: GenerationOptions | None) -> GenerationOptions:
    # SQL wants the most likely tokens; callers may still ask for sampling explicitly.
    options = options or GenerationOptions()
    return dataclasses.replace(
        options,
        temperature=0.0 if options.temperature is None else options.temperature,
        max_tokens=options.max_tokens or DEFAULT_MAX_TOKENS,
    )


def refuse(missing: Sequence[Fact], linked: LinkedSchema) -> StageError:
    """The honest end of a question no query could express whole: say what is left out, run nothing."""
    return StageError(
        ErrorCode.CANNOT_ANSWER,
        f"I could not write a query that accounts for {describe_missing(missing)} in the question.",
        missing=[fact.describe() for fact in missing],
        tables=[t.name for t in linked.scope.tables],
    )


def write_sql(
    question: str,
    source: DataSource | str,
    tables: list[str] | None,
    history: list[Turn],
    generator: TextGenerator,
    options: GenerationOptions | None,
    cancel: CancelToken | None,
    on_text: TextCallback | None = None,
    examples: Sequence[tuple[str, str]] = (),
    facts: Sequence[Fact] = (),
) -> SqlDraft:
    """Write checked DuckDB SQL for the question, with at most one correction round: for a draft that
    fails its checks, or leaves out something the question states (``facts``), or else for one that runs
    but finds no rows (kept if the rewrite finds none either).

    Raises StageError(CANNOT_ANSWER) when the model says the data cannot answer or no draft accounts
    for every fact, and StageError(INVALID_SQL) when the corrected draft still fails (details carry
    both attempts).
    """
    data_source = _resolve_source(source)
    try:
        linked = link_schema(question, data_source, tables, history)
    except ValueError as error:
        raise StageError(ErrorCode.BAD_SCOPE, str(error), source=data_source.name) from error
    grammar = build_sql_grammar(linked)
    options = _generation_options(options)
    messages = sql_messages(question, linked, history, examples, sql_hints(question, facts))
    draft = SqlDraft(sql="", linked=linked)

    owner = data_source.name
    result = generator.complete(
        messages, options=options, grammar=grammar, on_text=on_text, cancel=cancel, prefix_owner=owner
    )
    draft.generations.append(result)
    missing: list[Fact] = []
    try:
        draft.sql = check_draft(result.text, linked, data_source, question)
    except DraftError as error:
        draft.attempts.append({"sql": result.text, "error": str(error)})
        correction = Correction(result.text, str(error))
    else:
        missing = unaccounted(facts, draft.sql, linked.scope)
        if missing:
            draft.attempts.append({"sql": draft.sql, "error": f"leaves out {describe_missing(missing)}"})
            correction = Correction(
                result.text, f"It leaves out {describe_missing(missing)}.", problem=INCOMPLETE
            )
        elif finds_rows(data_source, draft.sql):
            return draft
        else:
            # The correction round is unused: spend it on a query that finds nothing, keeping this draft
            # unless the rewrite runs and finds rows (some questions rightly have an empty answer).
            correction = Correction(result.text, NO_ROWS_HINT, problem=NO_ROWS)

    retry = correction_messages(messages, question, linked, correction)
    if on_text is not None:
        on_text("\n")
    # Same grammar: forbidding aliases here (table_aliases=False) was measured to push the 1.5B model
    # from "T1." into "TRUE ..." junk that runs; the error text names the right table instead.
    if cancel is not None and cancel.cancelled:
        raise GenerationAborted()
    result = generator.complete(
        retry, options=options, grammar=grammar, on_text=on_text, cancel=cancel, prefix_owner=owner
    )
    draft.generations.append(result)
    try:
        rewritten = check_draft(result.text, linked, data_source, question)
    except (DraftError, StageError) as error:
        if missing:
            raise refuse(missing, linked) from error
        if draft.sql:
            return draft  # the first draft ran: a failed or refused rewrite does not undo it
        if isinstance(error, StageError):
            raise
        draft.attempts.append({"sql": result.text, "error": str(error)})
    else:
        still_missing = unaccounted(facts, rewritten, linked.scope)
        if missing or not draft.sql:
            if still_missing:
                draft.attempts.append(
                    {"sql": rewritten, "error": f"leaves out {describe_missing(still_missing)}"}
                )
                raise refuse(still_missing, linked)
            draft.sql = rewritten
        elif not still_missing and finds_rows(data_source, rewritten):
            draft.attempts.append({"sql": draft.generations[0].text, "error": NO_ROWS})
            draft.sql = rewritten
        return draft
    raise StageError(
        ErrorCode.INVALID_SQL,
        f"Could not write a working query: {draft.attempts[-1]['error']}",
        attempts=draft.attempts,
    )
