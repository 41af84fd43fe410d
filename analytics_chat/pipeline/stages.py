"""The answer pipeline's stages, in order. Each reads and writes the AnswerState and nothing else.

route → context → sql → execute → chart → compose
"""

from __future__ import annotations

from analytics_chat.engine.answer import plan_query
from analytics_chat.engine.linking import load_scope
from analytics_chat.engine.router import route_question
from analytics_chat.errors import ErrorCode
from analytics_chat.llm.base import GenerationAborted
from analytics_chat.presentation.compose import chart_for, compose_response
from analytics_chat.presentation.explain import explain
from catalog.execution import QueryAborted, QueryError, run_query
from catalog.guard import GuardError, check_sql
from catalog.models import DataSource, UnknownSource, enabled_source
from semantic.retrieval import retrieve_context

from . import state as S
from .runner import Stage
from .state import AnswerState, StageContext, StageError


def _source(state: AnswerState) -> DataSource:
    try:
        return enabled_source(state.scope.source)
    except UnknownSource as error:
        reason = str(error)
        raise StageError(ErrorCode.UNKNOWN_SCOPE, f"{reason[:1].upper()}{reason[1:]}.") from None


def route(state: AnswerState, ctx: StageContext) -> None:
    """Decide what kind of answer the question wants, and so which placeholders the response carries."""
    decision = route_question(state.ask, has_history=bool(state.history))
    state.intent = decision.intent
    state.wants = set(decision.wants)


def context(state: AnswerState, ctx: StageContext) -> None:
    """Pick the business rules, metrics, dimensions, tables and columns relevant to the question."""
    found = retrieve_context(state.ask, _source(state), tables=state.scope.tables or None)
    state.semantic_context = found.semantic_context_json()
    state.catalog = found.catalog_json()
    state.matched_metrics = found.metric_candidates


def write_sql(state: AnswerState, ctx: StageContext) -> None:
    """Turn the question into checked DuckDB SQL: the semantic layer when it covers it, raw SQL otherwise."""
    if state.intent != S.DATA:
        return
    plan_query(state, ctx, _source(state))


def execute(state: AnswerState, ctx: StageContext) -> None:
    """Run the SQL read-only, with a row cap and a timeout."""
    if not state.sql:
        return
    source = _source(state)
    try:  # again here, whatever path wrote the SQL: nothing reaches the engine unchecked
        scope = load_scope(source, state.scope.tables or None)
        guarded = check_sql(state.sql, allowed_tables=scope.names(), target=source.dialect)
        result = run_query(source, guarded.sql, cancel=ctx.cancel)
    except QueryAborted as exc:
        raise GenerationAborted() from exc
    except GuardError as exc:
        raise StageError(ErrorCode.REFUSED_SQL, exc.message, invalid_sql=state.sql) from exc
    except QueryError as exc:
        raise StageError(ErrorCode.QUERY_FAILED, str(exc), invalid_sql=state.sql) from exc
    state.data = result.as_dict()


def chart(state: AnswerState, ctx: StageContext) -> None:
    """Build a Vega-Lite chart when the question asks for one and the result's shape suits it."""
    state.chart_spec = chart_for(state)


def compose(state: AnswerState, ctx: StageContext) -> None:
    """Write the response template (every number in its sentence comes from the result) and the
    explanation of how the answer was computed."""
    if state.intent == S.DATA and state.data is not None:
        state.explanation = explain(state)
    state.response = compose_response(state)
    if not state.finish_reason:
        state.finish_reason = "stop"


STAGES: list[tuple[str, Stage]] = [
    ("route", route),
    ("context", context),
    ("sql", write_sql),
    ("execute", execute),
    ("chart", chart),
    ("compose", compose),
]
