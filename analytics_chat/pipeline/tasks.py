"""Celery tasks: answer one message; sweep messages whose worker died."""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import redis
from celery import current_task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from django import db
from django.conf import settings

from analytics_chat import channels, lifecycle
from analytics_chat.errors import ErrorCode, error_info
from analytics_chat.llm.base import BudgetExceeded, CancelToken, GenerationAborted, GenerationOptions
from analytics_chat.models import ChatMessage

from .runner import run_stages
from .stages import STAGES
from .state import AnswerState, Scope, StageContext, StageError, Turn

if TYPE_CHECKING:
    from analytics_chat.engine.warmup import WarmUp

log = logging.getLogger(__name__)
Status = ChatMessage.Status


def history_for(message: ChatMessage) -> list[Turn]:
    """The last few answered turns before this one, oldest first; empty when recall is off."""
    if not message.recall or message.parent_id is None:
        return []
    earlier = [m for m in message.ancestors()[:-1] if m.saved and m.status == Status.SUCCEEDED][
        -settings.CHAT["HISTORY_TURNS"] :
    ]
    return [
        Turn(
            ask=m.ask,
            sql=(m.response_data or {}).get("sql"),
            semantic_query=(m.plan or {}).get("semantic_query"),
            response=m.response,
        )
        for m in earlier
    ]


def parse_scope(scope: str) -> Scope:
    """'demo' or 'demo.orders,demo.customers' → Scope (validated by the API before it gets here)."""
    scope = scope or settings.CHAT["DEFAULT_SOURCE"]
    source, tables = "", []
    for part in (p.strip() for p in scope.split(",") if p.strip()):
        name, _, table = part.partition(".")
        source = source or name
        if table:
            tables.append(table)
    return Scope(source=source, tables=tables)


def state_for(message: ChatMessage) -> AnswerState:
    history = history_for(message)
    return AnswerState(
        message_uuid=str(message.uuid),
        ask=message.ask,
        scope=parse_scope(message.scope),
        model_name=message.model,
        options=GenerationOptions.from_dict(message.options),
        history=history,
        is_new=not history,
    )


def outcome_fields(state: AnswerState) -> dict[str, Any]:
    return {
        "response": state.response,
        "response_data": state.response_data,
        "is_new": state.is_new,
        "finish_reason": state.finish_reason,
        "usage": state.usage,
        "stage_timings": state.timings_ms,
        "plan": {
            "intent": state.intent,
            "path": state.path,
            "wants": sorted(state.wants),
            "semantic_query": state.semantic_query,
            "sql_attempts": state.sql_attempts,
            "facts": state.facts,
            "refusal": state.refusal,
        },
    }


def max_seconds_for(message: ChatMessage) -> float:
    """The answer's time budget: the request's ``max_seconds`` (validated against the setting), else the
    setting."""
    return float((message.options or {}).get("max_seconds") or settings.CHAT["MAX_SECONDS"])


def budget_error(stage: str, max_seconds: float | None, elapsed: float, partial_text: str = "") -> dict:
    """The error_info of an answer stopped at its time budget."""
    where = f" in the {stage} stage" if stage else ""
    info = error_info(
        ErrorCode.TIME_BUDGET,
        f"The answer took longer than its {max_seconds:g} s time budget and was stopped{where}.",
        stage=stage,
        max_seconds=max_seconds,
        elapsed_seconds=round(elapsed, 2),
    )
    if partial_text:
        info["partial_output"] = partial_text[:2000]
    return info


def answer(message: ChatMessage, generator, cancel: CancelToken) -> None:
    """Run the pipeline for a claimed message and write its terminal state. Never raises."""
    message_uuid = str(message.uuid)
    state = state_for(message)
    ctx = StageContext(
        generator=generator, cancel=cancel, emit=functools.partial(_publish_progress, message_uuid)
    )
    status: str
    fields: dict[str, Any]
    try:
        run_stages(
            state,
            ctx,
            STAGES,
            on_stage=lambda name: lifecycle.record_stage(message_uuid, name, state.timings_ms),
        )
    except Exception as exc:
        status, fields = _failure_outcome(exc, message, state, cancel)
    else:
        status, fields = Status.SUCCEEDED, _success_fields(state)
    lifecycle.finish(message_uuid, status, fields)
    lifecycle.publish_terminal(message_uuid)


def _publish_progress(message_uuid: str, event: str, payload: dict[str, Any]) -> None:
    """A stage or text event for the message's stream; lost events are fine, the answer is in the database."""
    try:
        channels.publish(message_uuid, event, payload)
    except redis.RedisError:
        pass  # progress events are best effort; the answer itself is written to the database


def _success_fields(state: AnswerState) -> dict[str, Any]:
    """What a finished answer writes: its outcome, no error, and no stage still running."""
    fields = outcome_fields(state)
    fields["error_info"] = None
    fields["current_stage"] = ""
    return fields


def _failure_outcome(
    exc: Exception, message: ChatMessage, state: AnswerState, cancel: CancelToken
) -> tuple[str, dict[str, Any]]:
    """The status and fields of an answer the pipeline stopped with ``exc``: one branch per kind of end.

    Called while ``exc`` is being handled, so an unexpected one is logged with its traceback.
    """
    if isinstance(exc, BudgetExceeded):
        return Status.FAILED, _over_budget_fields(exc, message, state, cancel)
    if isinstance(exc, GenerationAborted):
        return Status.ABORTED, _aborted_fields(exc, state)
    if isinstance(exc, StageError):
        return Status.FAILED, _stage_error_fields(exc, state)
    if isinstance(exc, SoftTimeLimitExceeded):
        return Status.FAILED, _soft_time_limit_fields(exc, message, state, cancel)
    return Status.FAILED, _internal_error_fields(exc, str(message.uuid), state)


def _over_budget_fields(
    exc: BudgetExceeded, message: ChatMessage, state: AnswerState, cancel: CancelToken
) -> dict[str, Any]:
    """The time budget ran out: the outcome keeps what the model wrote (and what it cost)."""
    partial = exc.partial.text if exc.partial is not None else ""
    if exc.partial is not None:
        state.add_usage(exc.partial)
    fields = outcome_fields(state)
    fields["finish_reason"] = "time"
    stage = getattr(exc, "failed_stage", "") or message.current_stage
    fields["error_info"] = budget_error(stage, exc.max_seconds, cancel.elapsed(), partial)
    return fields


def _aborted_fields(exc: GenerationAborted, state: AnswerState) -> dict[str, Any]:
    """The user stopped the answer: keep what the model produced, and count what it cost."""
    if exc.partial is not None:
        state.add_usage(exc.partial)
        if exc.partial.text and not state.response:
            state.response = exc.partial.text
    state.finish_reason = "aborted"
    fields = outcome_fields(state)
    fields["error_info"] = error_info(
        ErrorCode.ABORTED, lifecycle.ABORTED, stage=getattr(exc, "failed_stage", "")
    )
    return fields


def _stage_error_fields(exc: StageError, state: AnswerState) -> dict[str, Any]:
    """A stage could not do its part: its code, message and details are the error_info."""
    fields = outcome_fields(state)
    fields["finish_reason"] = "error"
    fields["error_info"] = error_info(
        exc.code, exc.message, stage=getattr(exc, "failed_stage", ""), **exc.details
    )
    return fields


def _soft_time_limit_fields(
    exc: SoftTimeLimitExceeded, message: ChatMessage, state: AnswerState, cancel: CancelToken
) -> dict[str, Any]:
    """Celery's soft limit, set a little past the budget: the job ran on where nothing checked the token."""
    fields = outcome_fields(state)
    fields["finish_reason"] = "time"
    stage = getattr(exc, "failed_stage", "") or message.current_stage
    fields["error_info"] = budget_error(stage, cancel.max_seconds, cancel.elapsed())
    return fields


def _internal_error_fields(exc: Exception, message_uuid: str, state: AnswerState) -> dict[str, Any]:
    """An unexpected fault: the traceback goes to the log, the client gets the uuid to find it by.

    The traceback and the exception name files and internals the client has no business seeing.
    """
    log.exception("answer %s failed", message_uuid)
    fields = outcome_fields(state)
    fields["finish_reason"] = "error"
    fields["error_info"] = error_info(
        ErrorCode.INTERNAL_ERROR,
        f"An internal error stopped this answer. The service log has the details under {message_uuid}.",
        stage=getattr(exc, "failed_stage", ""),
    )
    if state.sql:
        fields["error_info"]["invalid_sql"] = state.sql
    return fields


# How long a job may run on after its abort or the end of its budget before the watchdog cuts it off.
WATCHDOG_SECONDS = 5.0
# Kept back at the end of an answer's budget (at most a tenth of it): the claim came a little after the
# request, and the terminal state is still to be written, so the client sees the end within the budget.
FINISH_RESERVE_SECONDS = 1.0


def cut_off(message_uuid: str, cancel: CancelToken) -> None:
    """The watchdog (from the job's watcher thread): the job did not stop when its token fired, so it is
    stuck where nothing checks the token (inside C code). Write its end, then end this worker process:
    the pool starts a fresh one that loads the model and takes the next job, instead of every other
    question waiting behind this one until Celery's hard limit."""
    log.error(
        "answer %s did not stop %.0f s after its token fired; cutting it off", message_uuid, WATCHDOG_SECONDS
    )
    stage = (
        ChatMessage.objects.filter(uuid=message_uuid).values_list("current_stage", flat=True).first() or ""
    )
    if cancel.expired:
        error_info = {**budget_error(stage, cancel.max_seconds, cancel.elapsed()), "watchdog": True}
        lifecycle.finish(message_uuid, Status.FAILED, {"finish_reason": "time", "error_info": error_info})
    lifecycle.publish_terminal(message_uuid)
    request = getattr(current_task, "request", None)
    if request is not None and not request.is_eager:
        os._exit(70)  # the prefork pool replaces this child; the task is not run again (acks_late, no reject)


@shared_task(name="analytics_chat.answer_message", acks_late=True, ignore_result=True)
def answer_message(message_uuid: str) -> str:
    """Answer one message. A message that is no longer pending (aborted while queued) is dropped at once."""
    from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
    from analytics_chat.llm.registry import get_generator

    if channels.is_cancel_requested(message_uuid):
        lifecycle.request_abort(message_uuid)
        return "aborted"
    if not lifecycle.claim(message_uuid, worker=f"{socket.gethostname()}"):
        return "skipped"
    message = ChatMessage.objects.get(uuid=message_uuid)
    budget = max_seconds_for(message)
    cancel = CancelToken(max_seconds=budget, reserve=min(FINISH_RESERVE_SECONDS, 0.1 * budget))
    watchdog = functools.partial(cut_off, message_uuid, cancel)
    with (
        channels.CancelWatcher(
            message_uuid, cancel.cancel, token=cancel, on_stuck=watchdog, stuck_after=WATCHDOG_SECONDS
        ),
        _warm_up_steps_aside(message),
    ):
        try:
            generator = get_generator(message.model or None)
        except (UnknownModel, ModelUnavailable) as exc:
            lifecycle.fail(message_uuid, ErrorCode.MODEL_UNAVAILABLE, str(exc), stage="load_model")
            return "failed"
        answer(message, generator, cancel)
    return "done"


@shared_task(name="analytics_chat.sweep_stale_messages", ignore_result=True)
def sweep_stale_messages() -> int:
    return lifecycle.sweep_stale_messages()


@worker_process_init.connect
def load_default_model(**_kwargs) -> None:
    """Load the default model when a worker process starts, so the first question does not pay for it."""
    from analytics_chat.llm.registry import get_generator

    try:
        generator = get_generator(None)
    except Exception as exc:  # a missing model is reported per message, not by crashing the worker
        log.error("default model not loaded at start-up: %s", exc)
        return
    log.info("default model %s loaded; this worker process takes questions", generator.name)
    if settings.CHAT["WARM_UP"]:
        from analytics_chat.engine.warmup import WarmUp

        global _warm_up
        _warm_up = WarmUp(generator)
        # Celery's Django fixup, in its own handler of this signal, closes this process's database
        # connections twice: os.close on the socket's number, then the driver's close on it. A socket the
        # warm-up thread opens in between gets that number and is closed under it (EBADF: no warm-up at
        # all). Closed here, the connections leave the fixup nothing to close.
        db.connections.close_all()
        threading.Thread(target=_warm_up_sources, args=(_warm_up,), name="warm-up", daemon=True).start()


# This worker process's warm-up of prompt prefixes, when it has one.
_warm_up: WarmUp | None = None


def _warm_up_steps_aside(message: ChatMessage) -> AbstractContextManager[None]:
    """While this message is answered, the warm-up reads no other source's prefix. A message for another
    model ends the warm-up: loading that model frees the one it reads for, and would wait for its read."""
    from analytics_chat.llm.registry import is_loaded

    global _warm_up
    if _warm_up is None:
        return nullcontext()
    if not is_loaded(message.model or None):
        _warm_up.stop()
        _warm_up = None
        return nullcontext()
    return _warm_up.answering(parse_scope(message.scope).source)


def _warm_up_sources(warm_up: WarmUp) -> None:
    from analytics_chat.engine.warmup import sources_by_need

    try:
        sources = sources_by_need(settings.CHAT["DEFAULT_SOURCE"], settings.CHAT["WARM_UP_SOURCES"])
        # No more prefixes than the model keeps: the last ones read would push out the first, most needed.
        kept = getattr(getattr(warm_up.generator, "prefix_cache", None), "max_entries", None)
        warm_up.run(sources, max_prefixes=kept)
    except Exception:
        log.exception("warming the prompt prefixes failed; questions will read them when they come")


@worker_process_shutdown.connect
def stop_warm_up(**_kwargs) -> None:
    if _warm_up is not None:
        _warm_up.stop()
