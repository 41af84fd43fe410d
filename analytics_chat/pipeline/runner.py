"""Runs named stages in order over one AnswerState, timing each and checking for cancellation between them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .state import AnswerState, StageContext

Stage = Callable[[AnswerState, StageContext], None]


def run_stages(
    state: AnswerState,
    ctx: StageContext,
    stages: Sequence[tuple[str, Stage]],
    on_stage: Callable[[str], None] | None = None,
) -> None:
    """Run each stage; the exception of a failing stage propagates with ``failed_stage`` set on it.

    The cancel token is checked before each stage (an abort, or the time budget: each stage has what the
    ones before it left), and is the current token while the stages run, so every query they start is
    interrupted when it fires (``catalog.execution``).
    """
    with ctx.cancel.bound():
        for name, stage in stages:
            _run_stage(state, ctx, name, stage, on_stage)


def _run_stage(
    state: AnswerState,
    ctx: StageContext,
    name: str,
    stage: Stage,
    on_stage: Callable[[str], None] | None,
) -> None:
    if ctx.cancel.cancelled:
        error = ctx.cancel.error()
        error.failed_stage = name  # type: ignore[attr-defined]
        raise error
    if on_stage is not None:
        on_stage(name)
    ctx.emit("stage", {"stage": name, "state": "started"})
    started = time.perf_counter()
    try:
        stage(state, ctx)
    except BaseException as exc:
        exc.failed_stage = name  # type: ignore[attr-defined]
        raise
    finally:
        state.timings_ms[name] = round((time.perf_counter() - started) * 1000, 1)
    ctx.emit("stage", {"stage": name, "state": "finished", "elapsed_ms": state.timings_ms[name]})
