"""What the pipeline needs from a language model, independent of how it runs.

Two implementations exist: ``LlamaGenerator`` (llama.cpp through llama-cpp-python, the real thing) and
``ScriptedGenerator`` (a deterministic stand-in for fast tests and load tests).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class GenerationOptions:
    """Sampling options of the API; ``None`` means the model's default."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> GenerationOptions:
        values = values or {}
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known and v is not None})

    def merged_over(self, defaults: dict[str, Any]) -> GenerationOptions:
        """These options, with the gaps filled from a model's defaults."""
        merged = {**defaults, **{k: v for k, v in asdict(self).items() if v not in (None, [])}}
        return GenerationOptions.from_dict(merged)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [])}


@dataclass
class GenerationResult:
    text: str
    finish_reason: str  # "stop", "length", "repetition", "aborted" or "time"
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, how many came from a reused prefix
    completion_tokens: int = 0
    forced_tokens: int = 0  # of completion_tokens, how many the grammar dictated (appended, not sampled)
    prompt_ms: float = 0.0
    generation_ms: float = 0.0
    first_token_ms: float | None = None


class GenerationAborted(Exception):
    """The cancel token fired while the model was reading the prompt or writing (or between stages)."""

    reason = "aborted"

    def __init__(self, partial: GenerationResult | None = None, message: str = "generation aborted"):
        super().__init__(message)
        self.partial = partial


class BudgetExceeded(GenerationAborted):
    """The answer's time budget ran out: what was written so far is in ``partial``."""

    reason = "time"

    def __init__(self, partial: GenerationResult | None = None, *, max_seconds: float | None = None):
        super().__init__(partial, f"the {max_seconds or 0:g} s time budget ran out")
        self.max_seconds = max_seconds


log = logging.getLogger(__name__)
_CURRENT: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("cancel_token", default=None)


class CancelToken:
    """Set from outside (an abort request) or by its deadline (the answer's time budget); checked by the
    model between tokens and inside prompt evaluation, by the stage runner and by running queries.

    ``expired`` tells the deadline from an abort; ``error()`` is the exception that says which.
    Callbacks registered with ``on_cancel`` run once, when either happens (a query's ``interrupt``).
    ``reserve`` seconds at the end of the budget are kept back: the work stops that much before
    ``max_seconds`` so that writing the terminal state and ending the stream still fit within it.
    """

    def __init__(self, max_seconds: float | None = None, reserve: float = 0.0) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._expired = False
        self._callbacks: list[Callable[[], None]] = []
        self._timer: threading.Timer | None = None
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.deadline = self.started + max(0.0, max_seconds - reserve) if max_seconds else None

    def cancel(self) -> None:
        self._fire(expired=False)

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self._fire(expired=True)
            return True
        return False

    @property
    def expired(self) -> bool:
        """Stopped by the deadline (not by an abort)."""
        return self.cancelled and self._expired

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never below 0); None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, less when the deadline comes first; True once cancelled."""
        remaining = self.remaining()
        self._event.wait(timeout if remaining is None else min(timeout, remaining))
        return self.cancelled

    def error(self, partial: GenerationResult | None = None) -> GenerationAborted:
        """The exception for the way this token fired, carrying what was produced so far."""
        if partial is not None and partial.finish_reason == "aborted" and self.expired:
            partial.finish_reason = "time"
        if self.expired:
            return BudgetExceeded(partial, max_seconds=self.max_seconds)
        return GenerationAborted(partial)

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise self.error()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when the token fires (at once if it has); returns a function that unregisters it."""
        with self._lock:
            fired = self._event.is_set()
            if not fired:
                self._callbacks.append(callback)
                if self.deadline is not None and self._timer is None:
                    # Nobody may be polling when the deadline passes: a timer fires the callbacks.
                    self._timer = threading.Timer(self.remaining() or 0.0, lambda: self.cancelled)
                    self._timer.daemon = True
                    self._timer.start()
        if fired:
            _call(callback)

        def unregister() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unregister

    def _fire(self, *, expired: bool) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._expired = expired
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
            if self._timer is not None:
                self._timer.cancel()
        for callback in callbacks:
            _call(callback)

    # --- the token of the job running in this thread, for code that is not handed one (queries)
    @contextlib.contextmanager
    def bound(self) -> Iterator[CancelToken]:
        reset = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(reset)

    @staticmethod
    def current() -> CancelToken | None:
        return _CURRENT.get()


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # a callback that fails must not stop the others (or the job)
        log.exception("a cancel callback failed")


TextCallback = Callable[[str], None]


class TextGenerator(Protocol):
    """A loaded model. Implementations keep the KV state of prompt prefixes they have already read."""

    name: str
    context_size: int

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        options: GenerationOptions,
        grammar: str | None = None,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
        cancel: CancelToken | None = None,
        prefix_owner: str = "",
    ) -> GenerationResult:
        """Chat completion. ``grammar`` is GBNF; ``json_schema`` constrains output to that schema.
        ``prefix_owner`` (a source name) tags the saved state of the prompt's prefix, so that it can be
        forgotten when the source's catalog or semantic layer changes.

        Raises ``GenerationAborted`` (carrying what was produced so far) when ``cancel`` fires.
        """
        ...

    def warm(
        self, messages: list[dict[str, str]], cancel: CancelToken | None = None, prefix_owner: str = ""
    ) -> bool:
        """Read the prompt's reusable prefix ahead of questions, giving way to any question that comes."""
        ...

    def count_tokens(self, text: str) -> int: ...
