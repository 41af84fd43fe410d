"""Runs named stages in order over one AnswerState, timing each and checking for cancellation between them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from analytics_chat.llm.base import GenerationAborted

from .state import AnswerState, StageContext

Stage = Callable[[AnswerState, StageContext], None]


def run_stages(
    state: AnswerState,
    ctx: StageContext,
    stages: Sequence[tuple[str, Stage]],
    on_stage: Callable[[str], None] | None = None,
) -> None:
    """Run each stage; the exception of a failing stage propagates with ``failed_stage`` set on it."""
    for name, stage in stages:
        if ctx.cancel.cancelled:
            raise GenerationAborted()
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
