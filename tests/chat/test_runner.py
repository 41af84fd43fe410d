"""The stage runner: order, timings, events, cancellation between stages, and the failing stage's name."""

import time

import pytest

from analytics_chat.llm.base import CancelToken, GenerationAborted
from analytics_chat.pipeline.runner import run_stages
from analytics_chat.pipeline.state import AnswerState, Scope, StageContext, StageError


def make_state() -> AnswerState:
    return AnswerState(message_uuid="m1", ask="how many orders?", scope=Scope("demo"), model_name="m")


def recording_context(cancel=None):
    events = []
    ctx = StageContext(
        generator=None, cancel=cancel or CancelToken(), emit=lambda e, p: events.append((e, p))
    )
    return ctx, events


def test_stages_run_in_order_with_events_and_timings():
    seen = []
    stages = [(name, lambda s, c, n=name: seen.append(n)) for name in ("route", "context", "sql")]
    state = make_state()
    ctx, events = recording_context()
    started = []
    run_stages(state, ctx, stages, on_stage=started.append)
    assert seen == ["route", "context", "sql"] == started
    assert [(e, p["stage"], p["state"]) for e, p in events] == [
        ("stage", "route", "started"),
        ("stage", "route", "finished"),
        ("stage", "context", "started"),
        ("stage", "context", "finished"),
        ("stage", "sql", "started"),
        ("stage", "sql", "finished"),
    ]
    assert set(state.timings_ms) == {"route", "context", "sql"}
    assert all(t >= 0 for t in state.timings_ms.values())


def test_cancel_between_stages_stops_before_the_next_stage():
    cancel = CancelToken()
    seen = []

    def first(state, ctx):
        seen.append("first")
        cancel.cancel()

    stages = [("first", first), ("second", lambda s, c: seen.append("second"))]
    ctx, _ = recording_context(cancel)
    with pytest.raises(GenerationAborted):
        run_stages(make_state(), ctx, stages)
    assert seen == ["first"]


def test_failing_stage_is_named_and_timed():
    def broken(state, ctx):
        state.sql = "SELECT nope"
        raise StageError("query_failed", "no such column nope", invalid_sql=state.sql)

    state = make_state()
    ctx, events = recording_context()
    with pytest.raises(StageError) as info:
        run_stages(
            state, ctx, [("route", lambda s, c: None), ("execute", broken), ("compose", lambda s, c: None)]
        )
    assert info.value.failed_stage == "execute"
    assert info.value.details["invalid_sql"] == "SELECT nope"
    assert "execute" in state.timings_ms and "compose" not in state.timings_ms
    assert ("stage", {"stage": "execute", "state": "started"}) in events


def test_the_time_budget_stops_before_the_next_stage_and_names_it():
    from analytics_chat.llm.base import BudgetExceeded

    # a margin of seconds, not tenths: the budget runs from the token's creation, and a busy CI machine
    # once took more than 0.1 s to reach the first stage
    cancel = CancelToken(max_seconds=1.0)
    seen = []
    stages = [
        ("first", lambda s, c: (seen.append("first"), time.sleep(1.2))),
        ("second", lambda s, c: seen.append("second")),
    ]
    ctx, _ = recording_context(cancel)
    with pytest.raises(BudgetExceeded) as info:
        run_stages(make_state(), ctx, stages)
    assert seen == ["first"]
    assert info.value.failed_stage == "second"


def test_the_token_is_current_while_the_stages_run():
    cancel = CancelToken()
    seen = []
    ctx, _ = recording_context(cancel)
    run_stages(make_state(), ctx, [("only", lambda s, c: seen.append(CancelToken.current()))])
    assert seen == [cancel] and CancelToken.current() is None
