"""The ``sql`` stage's decision: answer through the semantic layer when it covers the question, else write
SQL. Liked answers on the same source become examples for later questions."""

from __future__ import annotations

from typing import Any

from analytics_chat.errors import ErrorCode
from analytics_chat.models import ChatMessage
from analytics_chat.pipeline import state as S
from analytics_chat.pipeline.state import AnswerState, StageContext, StageError
from catalog.models import DataSource
from catalog.text import name_words, question_words
from semantic.compiler import SemanticModel
from semantic.models import Dimension, Metric
from semantic.retrieval import statements_in_scope

from .accounting import (
    ROWS,
    describe_missing,
    question_facts,
    unaccounted,
    unknown_concepts,
    with_earlier_turns,
)
from .linking import load_scope
from .semantic_path import plan_semantic_query
from .settle import named_metrics
from .shape import is_presentation_change
from .sql_path import write_sql

MAX_EXAMPLES = 2


def liked_examples(state: AnswerState, source: DataSource) -> list[ChatMessage]:
    """Liked answers on this source whose questions share the most words with this one."""
    mine = question_words(state.ask)
    if not mine:
        return []
    candidates = (
        ChatMessage.objects.filter(
            liked=True, status=ChatMessage.Status.SUCCEEDED, scope__startswith=source.name
        )
        .exclude(uuid=state.message_uuid)
        .order_by("-created_at")[:200]
    )
    scored = []
    for message in candidates:
        overlap = len(mine & question_words(message.ask)) / len(mine)
        if overlap >= 0.5:
            scored.append((overlap, message))
    scored.sort(key=lambda pair: -pair[0])
    return [message for _, message in scored[:MAX_EXAMPLES]]


def data_vocabulary(source: DataSource, tables: list[str] | None) -> set[str]:
    """Every stemmed word the source's data speaks of: table and column names, synonyms and descriptions,
    stored values, and the semantic layer's metrics, dimensions and business rules."""
    schema = load_scope(source, tables)
    texts: list[str] = [schema.source_description]
    for table in schema.tables:
        texts += [table.name, table.description]
        for column in table.columns:
            texts += [column.name, column.description, *column.synonyms]
            texts += [str(v) for v in (column.profile or {}).get("distinct_values") or ()]
    model = SemanticModel(source, tables)
    items: list[Metric | Dimension] = [*model.metrics.values(), *model.dimensions.values()]
    for item in items:
        texts += [item.name, item.label or "", item.description or "", *(item.synonyms or [])]
    texts += [s.text for s in statements_in_scope(source, model.tables)]
    return {word for text in texts if text for word in name_words(text)}


def _semantic_layer_fits(state: AnswerState) -> bool:
    """The question names a metric (or follows up on a semantic answer)."""
    if state.history and state.history[-1].semantic_query:
        return True
    return bool(state.matched_metrics)


def plan_query(state: AnswerState, ctx: StageContext, source: DataSource) -> None:
    """Fill state.sql (checked DuckDB SQL), state.path, state.semantic_query and the SQL attempts.

    Every plan must account for what the question states (``accounting``): a semantic plan that leaves
    something out gives way to the SQL path, and a question no SQL accounts for is refused with the
    reason (intent ``unanswerable``, no SQL run) rather than answered as another question.
    """
    try:
        _plan(state, ctx, source)
    except StageError as error:
        if error.code != ErrorCode.CANNOT_ANSWER:
            raise
        state.intent = S.UNANSWERABLE
        state.refusal = error.message
        state.sql = None
        state.semantic_query = None


def _plan(state: AnswerState, ctx: StageContext, source: DataSource) -> None:
    tables = state.scope.tables or None
    examples = liked_examples(state, source)
    history = state.history
    if history:
        state.is_new = False
    previous = history[-1] if history else None
    if previous is not None and previous.sql and is_presentation_change(state.ask):
        # "Can you put that in a bar chart?": the same answer, shown another way
        state.path = "previous"
        state.sql = previous.sql
        state.semantic_query = previous.semantic_query
        return
    schema = load_scope(source, tables)
    unknown = unknown_concepts(state.ask, data_vocabulary(source, tables))
    if unknown:
        raise StageError(
            ErrorCode.CANNOT_ANSWER,
            f"The data in scope has nothing on {', '.join(repr(word) for word in unknown)}.",
            unknown=unknown,
        )
    model = SemanticModel(source, tables)
    facts = question_facts(state.ask, schema, metrics=named_metrics(state.ask, model))
    earlier = [question_facts(t.ask, schema, metrics=named_metrics(t.ask, model)) for t in reversed(history)]
    facts = with_earlier_turns(facts, earlier)
    state.facts = [fact.describe() for fact in facts]
    generator = ctx.generator
    assert generator is not None, "the sql stage runs with a model"

    # A list of rows is no metric by dimensions: the semantic layer cannot express it.
    if _semantic_layer_fits(state) and not any(fact.kind == ROWS for fact in facts):
        semantic_examples: list[tuple[str, dict[str, Any]]] = [
            (m.ask, m.plan["semantic_query"]) for m in examples if (m.plan or {}).get("semantic_query")
        ]
        plan = plan_semantic_query(
            state.ask, source, tables, history, generator, state.options, ctx.cancel,
            candidate_metrics=state.matched_metrics, examples=semantic_examples, on_text=ctx.emit_text,
        )  # fmt: skip
        missing = unaccounted(facts, plan.sql, schema) if plan is not None else []
        if plan is not None and not missing:
            state.add_usage(plan.generation)
            state.path = "semantic"
            state.semantic_query = plan.query
            state.sql = plan.sql
            return
        if plan is not None:
            state.add_usage(plan.generation)
            state.sql_attempts.append(
                {"path": "semantic", "sql": plan.sql, "error": f"leaves out {describe_missing(missing)}"}
            )
        else:
            state.sql_attempts.append(
                {"path": "semantic", "error": "the semantic layer could not express the question"}
            )

    sql_examples = [(m.ask, m.response_data["sql"]) for m in examples if (m.response_data or {}).get("sql")]
    state.path = "sql"
    try:
        draft = write_sql(
            state.ask, source, tables, history, generator, state.options, ctx.cancel,
            on_text=ctx.emit_text, examples=sql_examples, facts=facts,
        )  # fmt: skip
    except Exception as exc:
        # the attempts of a failed draft travel with the error into error_info
        attempts = getattr(exc, "details", {}).get("attempts")
        if attempts:
            state.sql_attempts.extend(attempts)
            state.sql = attempts[-1].get("sql")
        raise
    for generation in draft.generations:
        state.add_usage(generation)
    state.sql_attempts.extend(draft.attempts)
    state.sql = draft.sql
