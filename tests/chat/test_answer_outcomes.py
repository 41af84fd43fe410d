"""What ``tasks.answer`` writes for each way the pipeline ends: status, every field, and the final event.

The stages are replaced by one that leaves a known state and ends as each case needs, so the outcome is
pinned field by field without a model or a database.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded

from analytics_chat import channels, lifecycle
from analytics_chat.errors import ErrorCode
from analytics_chat.llm.base import BudgetExceeded, GenerationAborted, GenerationResult
from analytics_chat.models import ChatMessage
from analytics_chat.pipeline import tasks
from analytics_chat.pipeline.state import StageError

UUID = "6a1f4a9e-2c3b-4d5e-8f70-0123456789ab"


class FakeCancel:
    """The parts of a CancelToken that ``answer`` reads once the stages are done."""

    max_seconds = 7.5

    def elapsed(self) -> float:
        return 8.123456


def message(**fields: Any) -> ChatMessage:
    return ChatMessage(uuid=UUID, ask="How many orders?", scope="demo", model="tiny", **fields)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[Any, ...]]:
    """Every write and event of the answer, in order."""
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(lifecycle, "finish", lambda *args: seen.append(("finish", *args)))
    monkeypatch.setattr(lifecycle, "publish_terminal", lambda *args: seen.append(("publish_terminal", *args)))
    monkeypatch.setattr(lifecycle, "record_stage", lambda *args: seen.append(("record_stage", *args)))
    monkeypatch.setattr(channels, "publish", lambda *args: seen.append(("publish", *args)))
    return seen


def stages_that(
    monkeypatch, end: BaseException | None, *, sql: str | None = "SELECT 1", failed_stage: str = "sql"
) -> None:
    """Stages that fill a state (route, then sql), emit a stage event, and end with ``end`` in sql
    (``failed_stage`` is what the runner sets on the exception of a failing stage)."""

    def run_stages(state, ctx, stages, on_stage=None):
        on_stage("route")
        state.intent, state.path, state.wants = "data", "sql", {"sql", "data"}
        state.timings_ms["route"] = 1.5
        ctx.emit("stage", {"stage": "route", "state": "finished"})
        on_stage("sql")
        state.sql = sql
        state.response = "The answer is 3 orders." if end is None else ""
        state.usage["prompt_tokens"] += 100
        if end is not None:
            end.failed_stage = failed_stage
            raise end

    monkeypatch.setattr(tasks, "run_stages", run_stages)


def outcome(**changes: Any) -> dict[str, Any]:
    """The fields the fake stages' state gives, with ``changes``."""
    fields = {
        "response": "",
        "response_data": {
            "data": None,
            "sql": "SELECT 1",
            "chart_spec": None,
            "semantic_context": None,
            "catalog": None,
            "explanation": None,
        },
        "is_new": True,
        "finish_reason": "",
        "usage": {"prompt_tokens": 100, "cached_prompt_tokens": 0, "completion_tokens": 0},
        "stage_timings": {"route": 1.5},
        "plan": {
            "intent": "data",
            "path": "sql",
            "wants": ["data", "sql"],
            "semantic_query": None,
            "sql_attempts": [],
            "facts": [],
            "refusal": "",
        },
    }
    return {**fields, **changes}


def progress(state_timings: dict[str, float]) -> list[tuple[Any, ...]]:
    return [
        ("record_stage", UUID, "route", state_timings),
        ("publish", UUID, "stage", {"stage": "route", "state": "finished"}),
        ("record_stage", UUID, "sql", state_timings),
    ]


def test_success(monkeypatch, calls):
    stages_that(monkeypatch, None)
    tasks.answer(message(), None, FakeCancel())
    fields = outcome(response="The answer is 3 orders.", error_info=None, current_stage="")
    assert calls == [
        *progress({"route": 1.5}),
        ("finish", UUID, "succeeded", fields),
        ("publish_terminal", UUID),
    ]
    assert list(calls[-2][3]) == [*outcome(), "error_info", "current_stage"]


def test_time_budget_keeps_what_the_model_wrote(monkeypatch, calls):
    partial = GenerationResult(
        "SELECT 1 +", "time", prompt_tokens=20, cached_prompt_tokens=5, completion_tokens=4
    )
    stages_that(monkeypatch, BudgetExceeded(partial, max_seconds=7.0))
    tasks.answer(message(current_stage="route"), None, FakeCancel())
    error = {
        "code": ErrorCode.TIME_BUDGET,
        "message": "The answer took longer than its 7 s time budget and was stopped in the sql stage.",
        "stage": "sql",
        "max_seconds": 7.0,
        "elapsed_seconds": 8.12,
        "partial_output": "SELECT 1 +",
    }
    usage = {"prompt_tokens": 120, "cached_prompt_tokens": 5, "completion_tokens": 4}
    assert calls[3:] == [
        ("finish", UUID, "failed", outcome(finish_reason="time", usage=usage, error_info=error)),
        ("publish_terminal", UUID),
    ]


def test_time_budget_without_output_or_stage_takes_the_message_stage(monkeypatch, calls):
    stages_that(monkeypatch, BudgetExceeded(None, max_seconds=2.5), failed_stage="")
    tasks.answer(message(current_stage="route"), None, FakeCancel())
    error = {
        "code": ErrorCode.TIME_BUDGET,
        "message": "The answer took longer than its 2.5 s time budget and was stopped in the route stage.",
        "stage": "route",
        "max_seconds": 2.5,
        "elapsed_seconds": 8.12,
    }
    assert calls[3] == ("finish", UUID, "failed", outcome(finish_reason="time", error_info=error))


def test_abort_keeps_the_partial_text_as_the_response(monkeypatch, calls):
    partial = GenerationResult("Orders were", "aborted", prompt_tokens=10, completion_tokens=2)
    stages_that(monkeypatch, GenerationAborted(partial))
    tasks.answer(message(), None, FakeCancel())
    error = {"code": ErrorCode.ABORTED, "message": lifecycle.ABORTED, "stage": "sql"}
    usage = {"prompt_tokens": 110, "cached_prompt_tokens": 0, "completion_tokens": 2}
    fields = outcome(response="Orders were", finish_reason="aborted", usage=usage, error_info=error)
    assert calls[3:] == [("finish", UUID, "aborted", fields), ("publish_terminal", UUID)]


def test_abort_between_stages(monkeypatch, calls):
    stages_that(monkeypatch, GenerationAborted())
    tasks.answer(message(), None, FakeCancel())
    error = {"code": ErrorCode.ABORTED, "message": lifecycle.ABORTED, "stage": "sql"}
    assert calls[3] == ("finish", UUID, "aborted", outcome(finish_reason="aborted", error_info=error))


def test_stage_error_carries_its_code_and_details(monkeypatch, calls):
    stages_that(monkeypatch, StageError(ErrorCode.INVALID_SQL, "No working query.", attempts=[{"sql": "x"}]))
    tasks.answer(message(), None, FakeCancel())
    error = {
        "code": ErrorCode.INVALID_SQL,
        "message": "No working query.",
        "stage": "sql",
        "attempts": [{"sql": "x"}],
    }
    assert calls[3:] == [
        ("finish", UUID, "failed", outcome(finish_reason="error", error_info=error)),
        ("publish_terminal", UUID),
    ]


@pytest.mark.parametrize(("failed_stage", "stage"), [("sql", "sql"), ("", "route")])
def test_celery_soft_time_limit(monkeypatch, calls, failed_stage, stage):
    stages_that(monkeypatch, SoftTimeLimitExceeded(), failed_stage=failed_stage)
    tasks.answer(message(current_stage="route"), None, FakeCancel())
    error = {
        "code": ErrorCode.TIME_BUDGET,
        "message": f"The answer took longer than its 7.5 s time budget and was stopped in the {stage} stage.",
        "stage": stage,
        "max_seconds": 7.5,
        "elapsed_seconds": 8.12,
    }
    assert calls[3:] == [
        ("finish", UUID, "failed", outcome(finish_reason="time", error_info=error)),
        ("publish_terminal", UUID),
    ]


def test_internal_error_is_logged_and_names_the_uuid(monkeypatch, calls, caplog):
    stages_that(monkeypatch, RuntimeError("decoder state corrupt"))
    with caplog.at_level(logging.ERROR, logger="analytics_chat.pipeline.tasks"):
        tasks.answer(message(), None, FakeCancel())
    error = {
        "code": ErrorCode.INTERNAL_ERROR,
        "message": f"An internal error stopped this answer. The service log has the details under {UUID}.",
        "stage": "sql",
        "invalid_sql": "SELECT 1",
    }
    assert calls[3:] == [
        ("finish", UUID, "failed", outcome(finish_reason="error", error_info=error)),
        ("publish_terminal", UUID),
    ]
    [record] = [r for r in caplog.records if r.name == "analytics_chat.pipeline.tasks"]
    assert record.getMessage() == f"answer {UUID} failed"
    assert isinstance(record.exc_info[1], RuntimeError)


def test_internal_error_without_sql(monkeypatch, calls):
    stages_that(monkeypatch, KeyError("x"), sql=None)
    tasks.answer(message(), None, FakeCancel())
    error = calls[3][3]["error_info"]
    assert calls[3][3]["response_data"]["sql"] is None
    assert "invalid_sql" not in error and error["code"] == ErrorCode.INTERNAL_ERROR


def test_a_lost_progress_event_does_not_stop_the_answer(monkeypatch, calls):
    stages_that(monkeypatch, None)

    def broker_down(*args):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(channels, "publish", broker_down)
    tasks.answer(message(), None, FakeCancel())
    assert [c[0] for c in calls] == ["record_stage", "record_stage", "finish", "publish_terminal"]
    assert calls[2][2] == "succeeded"


def test_an_interrupt_is_not_swallowed(monkeypatch, calls):
    stages_that(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        tasks.answer(message(), None, FakeCancel())
    assert [c[0] for c in calls] == ["record_stage", "publish", "record_stage"]
