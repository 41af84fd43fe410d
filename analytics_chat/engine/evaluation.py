"""Asking an evaluation set through the answer pipeline, and scoring the answers.

The questions go through the same stages the API runs (``pipeline.stages.STAGES``), in this process, with
the same model layer; a line with ``parent`` is asked as a follow-up in that line's thread. Scoring follows
the eval README: result sets compared as multisets (in order when ``order_matters``), numbers to a
relative tolerance of 1e-6, extra answer columns allowed; ``expects`` lists placeholders the response must
carry.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from django.conf import settings

from analytics_chat.llm.base import CancelToken, GenerationAborted, GenerationOptions, TextGenerator
from analytics_chat.pipeline.runner import run_stages
from analytics_chat.pipeline.stages import STAGES
from analytics_chat.pipeline.state import (
    DATA,
    UNANSWERABLE,
    AnswerState,
    Scope,
    StageContext,
    StageError,
    Turn,
)
from catalog.execution import QueryError, run_query
from catalog.models import DataSource
from catalog.sync import import_source

from .scoring import results_match
from .warmup import warm_prefixes

SCORING_ROW_CAP = 200_000


@dataclass
class Question:
    id: str
    question: str
    gold_sql: str | None
    source: str
    parent: str | None = None
    order_matters: bool = False
    expects: list[str] = field(default_factory=list)
    gold_sql_duckdb: str | None = None
    duckdb_runs_unchanged: bool = True
    # Ties in the data make the gold result depend on row order (the set's ``gold_tie_sensitive``): two
    # engines may give different, equally valid results.
    tie_sensitive: bool = False
    # Where the gold query runs when the question is asked on another copy of its data (a server source
    # loaded from the same file): the set's own source. None: the asked source itself.
    reference: str | None = None

    @property
    def gold_for_duckdb(self) -> str | None:
        return self.gold_sql_duckdb or (self.gold_sql if self.duckdb_runs_unchanged else None)


@dataclass
class Outcome:
    id: str
    question: str
    correct: bool
    # "correct", "wrong_result", "no_sql", "failed", "sql_error" (the answer's SQL fails when run),
    # "missing_placeholders", "gold_error"
    verdict: str
    latency_ms: float
    first_token_ms: float | None
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    path: str | None
    sql: str | None
    error: str | None = None
    stage_ms: dict[str, float] = field(default_factory=dict)
    warm_up_ms: float | None = None  # reading this source's prompt prefixes, before this question


def load_questions(path: Path, default_source: str | None) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        source = row.get("db_id") or default_source
        if not source:
            raise ValueError(f"{path}:{number}: no db_id and no --source to ask it on")
        questions.append(
            Question(
                id=row["id"],
                question=row["question"],
                gold_sql=row.get("gold_sql"),
                source=source,
                parent=row.get("parent"),
                order_matters=bool(row.get("order_matters")),
                expects=list(row.get("expects") or []),
                gold_sql_duckdb=row.get("gold_sql_duckdb"),
                duckdb_runs_unchanged=row.get("duckdb_runs_unchanged", True),
                tie_sensitive=bool(row.get("gold_tie_sensitive")),
            )
        )
    return questions


def ensure_sources(questions: list[Question], db_dir: Path | None, report: Callable[[str], None]) -> None:
    """Import any source the set names that is not registered yet, from db_dir/<name>.sqlite, as a user
    would (no descriptions, no semantic model)."""
    for name in sorted({q.source for q in questions} | {q.reference for q in questions if q.reference}):
        if DataSource.objects.filter(name=name).exists():
            continue
        candidate = db_dir / f"{name}.sqlite" if db_dir else None
        if candidate is None or not candidate.exists():
            raise ValueError(f"data source {name!r} is not registered and {candidate} does not exist")
        report(f"importing {name} from {candidate}")
        import_source(name, candidate)


def answer_question(
    question: Question,
    generator: TextGenerator,
    history: list[Turn],
    options: GenerationOptions | None = None,
) -> tuple[AnswerState, float | None, str | None]:
    """Run the pipeline; returns the state, the time to the first streamed text and any error."""
    state = AnswerState(
        message_uuid=str(uuid.uuid4()),
        ask=question.question,
        scope=Scope(source=question.source),
        model_name=generator.name,
        options=options or GenerationOptions(),
        history=history,
        is_new=not history,
    )
    started = time.perf_counter()
    first_text: list[float] = []

    def emit(event: str, payload: dict[str, Any]) -> None:
        if event == "delta" and not first_text:
            first_text.append((time.perf_counter() - started) * 1000)

    error = None
    try:
        run_stages(state, StageContext(generator=generator, cancel=CancelToken(), emit=emit), STAGES)
    except StageError as exc:
        error = f"{exc.code}: {exc.message}"
    except GenerationAborted:
        error = "aborted"
    except Exception as exc:  # an evaluation reports every failure and goes on
        error = f"{type(exc).__name__}: {exc}"
    return state, (first_text[0] if first_text else None), error


def baseline_answer(
    question: Question, generator: TextGenerator
) -> tuple[AnswerState, float | None, str | None]:
    """The baseline: same model, full schema DDL in a plain prompt, no grammar, no prefix reuse."""
    from . import prompts
    from .linking import load_scope
    from .sql_path import parse_any_dialect

    state = AnswerState(message_uuid=str(uuid.uuid4()), ask=question.question, scope=Scope(question.source),
                        model_name=generator.name)  # fmt: skip
    started = time.perf_counter()
    first_text: list[float] = []

    def on_text(_piece: str) -> None:
        if not first_text:
            first_text.append((time.perf_counter() - started) * 1000)

    reset = getattr(generator, "forget_prompts", None)
    if reset is not None:
        reset()  # nothing of an earlier prompt may be reused
    messages = prompts.baseline_messages(question.question, load_scope(question.source))
    try:
        result = generator.complete(
            messages, options=GenerationOptions(temperature=0.0, max_tokens=256), on_text=on_text
        )
    except Exception as exc:
        return state, None, f"{type(exc).__name__}: {exc}"
    state.add_usage(result)
    state.timings_ms["sql"] = round((time.perf_counter() - started) * 1000, 1)
    state.path = "baseline"
    text = result.text.strip()
    fenced = re.search(r"```(?:sql)?\s*(.*?)```", text, re.DOTALL | re.IGNORECASE)
    text = (fenced.group(1) if fenced else text).strip().rstrip(";")
    try:
        state.sql = parse_any_dialect(text).sql(dialect="duckdb")
    except Exception as exc:
        return state, (first_text[0] if first_text else None), f"unparsable: {exc}"
    return state, (first_text[0] if first_text else None), None


def floor_answer(
    question: Question, generator: TextGenerator
) -> tuple[AnswerState, float | None, str | None]:
    """The floor: the pipeline's own SQL prompt read, then the gold SQL decoded one token at a time, with
    no choosing, checking or running. No answer this model writes a token per decode can come sooner."""
    from .linking import link_schema
    from .prompts import sql_messages

    state = AnswerState(message_uuid=str(uuid.uuid4()), ask=question.question, scope=Scope(question.source),
                        model_name=generator.name)  # fmt: skip
    replay = getattr(generator, "replay", None)
    if replay is None or not question.gold_sql:
        return state, None, "the floor needs a llama.cpp model and a gold query"
    linked = link_schema(question.question, question.source, None, [])
    result = replay(sql_messages(question.question, linked), question.gold_sql)
    state.add_usage(result)
    state.timings_ms["sql"] = round(result.prompt_ms + result.generation_ms, 1)
    state.path = "floor"
    state.sql = question.gold_for_duckdb or question.gold_sql
    return state, result.first_token_ms, None


def _rows(source: DataSource, sql: str) -> tuple[list[tuple], list[str]]:
    result = run_query(source, sql, row_cap=SCORING_ROW_CAP)
    return [tuple(row) for row in result.rows], result.columns


def _sqlite_rows(path: Path, sql: str) -> tuple[list[tuple], list[str]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        cursor = conn.execute(sql)
        return [tuple(r) for r in cursor.fetchall()], [d[0] for d in cursor.description]


CANNOT_ANSWER = "cannot_answer"
# Wrong answers that look like answers: a result for another question, or a query where none was asked for.
SILENT_VERDICTS = frozenset(["wrong_result", "answered_unanswerable", "query_instead"])


def refused(state: AnswerState, error: str | None) -> bool:
    """The answer says the data cannot answer the question, and runs no SQL."""
    said_so = state.intent == UNANSWERABLE or (error or "").startswith(CANNOT_ANSWER)
    return said_so and not state.data


def score(
    question: Question, state: AnswerState, error: str | None, db_dir: Path | None
) -> tuple[bool, str, str | None]:
    """(correct, verdict, error) for one answered question."""
    placeholders = [name for name in question.expects if name != CANNOT_ANSWER]
    placeholders_ok = all("{" + name + "}" in state.response for name in placeholders)
    if CANNOT_ANSWER in question.expects:
        if refused(state, error):
            return True, "correct", None
        return False, ("answered_unanswerable" if state.sql else "failed"), error
    if question.gold_sql is None:
        if state.sql and state.intent == DATA:
            return False, "query_instead", error  # a catalog or definition question answered with a query
        if error:
            return False, "failed", error
        return placeholders_ok, "correct" if placeholders_ok else "missing_placeholders", None
    if refused(state, error):
        return False, "refused", state.refusal or error
    if not state.sql:
        return False, ("failed" if error else "no_sql"), error
    asked = DataSource.objects.get(name=question.source)
    source = DataSource.objects.get(name=question.reference) if question.reference else asked
    sqlite_file = db_dir / f"{source.name}.sqlite" if db_dir else None
    gold_sql = question.gold_for_duckdb
    on_sqlite = gold_sql is None and sqlite_file is not None and sqlite_file.exists()
    try:
        if on_sqlite:  # no DuckDB version of the gold query: score both on SQLite, as the set's README says
            assert sqlite_file is not None
            gold_rows, gold_cols = _sqlite_rows(sqlite_file, question.gold_sql)
        else:
            gold_rows, gold_cols = _rows(source, gold_sql or question.gold_sql)
    except (QueryError, sqlite3.Error, sqlglot.errors.SqlglotError) as exc:
        return False, "gold_error", f"{type(exc).__name__}: {exc}"
    try:
        if question.reference:  # the answer as the asked source gives it, against the reference's gold
            answer_rows, answer_cols = _rows(asked, state.sql)
        elif on_sqlite:
            answer_sql = sqlglot.transpile(state.sql, read="duckdb", write="sqlite")[0]
            assert sqlite_file is not None
            answer_rows, answer_cols = _sqlite_rows(sqlite_file, answer_sql)
        else:
            answer_rows, answer_cols = _rows(source, state.sql)
    except (QueryError, sqlite3.Error, sqlglot.errors.SqlglotError) as exc:
        return False, "sql_error", f"{type(exc).__name__}: {exc}"
    if not results_match(answer_rows, answer_cols, gold_rows, gold_cols, question.order_matters):
        return False, "wrong_result", error
    if not placeholders_ok:
        return False, "missing_placeholders", error
    return True, "correct", error


def evaluate(
    questions: list[Question],
    generator: TextGenerator,
    db_dir: Path | None = None,
    options: GenerationOptions | None = None,
    baseline: bool = False,
    floor: bool = False,
) -> Iterator[Outcome]:
    """Answer and score each question in order, yielding as it goes (``baseline``: the plain approach;
    ``floor``: the time the model takes to write the gold SQL alone, see ``floor_answer``).

    Like a worker, which reads a source's prompt prefixes when it starts, the pipeline warms them before
    the first question on each source; that time is not in any question's latency (``warm_up_ms``).
    """
    answered: dict[str, tuple[Question, AnswerState]] = {}
    warmed: set[str] = set()
    for question in questions:
        warm_up_ms = None
        if not baseline and question.source not in warmed:
            warmed.add(question.source)
            started = time.perf_counter()
            warm_prefixes(generator, list(DataSource.objects.filter(name=question.source)))
            warm_up_ms = round((time.perf_counter() - started) * 1000, 1)
        history: list[Turn] = []
        if question.parent and question.parent in answered:
            # the thread up to the parent, as the API gives a follow-up its earlier turns
            parent_question, parent_state = answered[question.parent]
            parent_turn = Turn(
                ask=parent_question.question, sql=parent_state.sql, semantic_query=parent_state.semantic_query
            )
            history = [*parent_state.history, parent_turn][-settings.CHAT["HISTORY_TURNS"] :]
        started = time.perf_counter()
        if baseline:
            state, first_token_ms, error = baseline_answer(question, generator)
        elif floor:
            state, first_token_ms, error = floor_answer(question, generator)
        else:
            state, first_token_ms, error = answer_question(question, generator, history, options)
        latency_ms = (time.perf_counter() - started) * 1000
        answered[question.id] = (question, state)
        if floor:  # nothing to score: the gold query was replayed, not written
            correct, verdict, detail = error is None, ("replayed" if error is None else "failed"), error
        else:
            correct, verdict, detail = score(question, state, error, db_dir)
        yield Outcome(
            id=question.id,
            question=question.question,
            correct=correct,
            verdict=verdict,
            latency_ms=round(latency_ms, 1),
            first_token_ms=round(first_token_ms, 1) if first_token_ms is not None else None,
            prompt_tokens=state.usage["prompt_tokens"],
            cached_prompt_tokens=state.usage["cached_prompt_tokens"],
            completion_tokens=state.usage["completion_tokens"],
            path=state.path,
            sql=state.sql,
            error=detail,
            warm_up_ms=warm_up_ms,
            stage_ms=dict(state.timings_ms),
        )


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    latencies = [o.latency_ms for o in outcomes]
    first_tokens = [o.first_token_ms for o in outcomes if o.first_token_ms is not None]
    count = len(outcomes)
    wrong = [o for o in outcomes if not o.correct]
    return {
        "questions": count,
        "correct": sum(o.correct for o in outcomes),
        "wrong": len(wrong),
        "silent_wrong": sum(o.verdict in SILENT_VERDICTS for o in wrong),
        "refused_wrongly": sum(o.verdict == "refused" for o in wrong),
        "accuracy": (sum(o.correct for o in outcomes) / count) if count else 0.0,
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "first_token_p50_ms": percentile(first_tokens, 0.5),
        "prompt_tokens_mean": statistics.fmean([o.prompt_tokens for o in outcomes]) if count else 0,
        "cached_prompt_tokens_mean": statistics.fmean([o.cached_prompt_tokens for o in outcomes])
        if count
        else 0,
        "completion_tokens_mean": statistics.fmean([o.completion_tokens for o in outcomes]) if count else 0,
        "warm_up_ms": round(sum(o.warm_up_ms or 0 for o in outcomes), 1),
        "verdicts": {v: sum(o.verdict == v for o in outcomes) for v in sorted({o.verdict for o in outcomes})},
        "paths": {
            p: sum(str(o.path) == p for o in outcomes) for p in sorted({str(o.path) for o in outcomes})
        },
    }


def report_document(outcomes: list[Outcome], **meta: Any) -> dict[str, Any]:
    return {**meta, "summary": summary(outcomes), "questions": [asdict(o) for o in outcomes]}


@dataclass
class GoldCheck:
    """How an answer that is the gold query fares on the set's own source and on a copy of it."""

    id: str
    source: str  # the copy the question is asked on (a server source, after load_sqlite)
    reference: str  # the set's own source
    verdict: str  # on the copy: score()'s verdict, or "guard_refused"
    reference_verdict: str  # the same answer on the set's own source
    tie_sensitive: bool
    detail: str | None
    copy_ms: float
    reference_ms: float

    @property
    def same(self) -> bool:
        return self.verdict == self.reference_verdict


def gold_as_answer(question: Question, source: DataSource) -> tuple[AnswerState, str | None]:
    """An answer whose SQL is the gold query, as the execute stage would run it on ``source``: DuckDB SQL
    (the gold transpiled from SQLite when the set has no DuckDB version), checked by the guard for the
    source's dialect. The error is the guard's refusal, if any."""
    from catalog.guard import GuardError, check_sql

    from .linking import load_scope

    state = AnswerState(
        message_uuid=str(uuid.uuid4()),
        ask=question.question,
        scope=Scope(source=source.name),
        model_name="gold",
    )
    state.intent = DATA
    sql = (
        question.gold_for_duckdb
        or sqlglot.transpile(question.gold_sql or "", read="sqlite", write="duckdb")[0]
    )
    try:
        state.sql = check_sql(sql, allowed_tables=load_scope(source).names(), target=source.dialect).sql
    except GuardError as error:
        return state, f"guard_refused: {error.message}"
    return state, None


def check_gold(question: Question, db_dir: Path | None) -> GoldCheck:
    """The gold query answered on the copy (``question.source``) and on the set's own source
    (``question.reference``), each scored as ``evaluate`` scores an answer there. A copy that holds the same
    data and runs queries alike gives the same verdict: "correct" for every question whose gold runs."""
    if not question.reference:
        raise ValueError(f"{question.id}: no reference source to compare the copy with")
    outcomes = []
    detail: str | None
    for asked, reference in ((question.source, question.reference), (question.reference, None)):
        started = time.perf_counter()
        as_asked = Question(**{**asdict(question), "source": asked, "reference": reference})
        state, refusal = gold_as_answer(as_asked, DataSource.objects.get(name=asked))
        if refusal:
            verdict, detail = "guard_refused", refusal
        else:
            _correct, verdict, detail = score(as_asked, state, None, db_dir)
        outcomes.append((verdict, detail, round((time.perf_counter() - started) * 1000, 1)))
    (verdict, detail, copy_ms), (reference_verdict, reference_detail, reference_ms) = outcomes
    return GoldCheck(
        id=question.id, source=question.source, reference=question.reference, verdict=verdict,
        reference_verdict=reference_verdict, tie_sensitive=question.tie_sensitive,
        detail=detail or reference_detail, copy_ms=copy_ms,
        reference_ms=reference_ms,
    )  # fmt: skip
