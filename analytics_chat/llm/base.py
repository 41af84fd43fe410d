"""What the pipeline needs from a language model, independent of how it runs.

Two implementations exist: ``LlamaGenerator`` (llama.cpp through llama-cpp-python, the real thing) and
``ScriptedGenerator`` (a deterministic stand-in for fast tests and load tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    finish_reason: str  # "stop", "length" or "aborted"
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, how many came from a reused prefix
    completion_tokens: int = 0
    forced_tokens: int = 0  # of completion_tokens, how many the grammar dictated (appended, not sampled)
    prompt_ms: float = 0.0
    generation_ms: float = 0.0
    first_token_ms: float | None = None


class GenerationAborted(Exception):
    """The cancel token fired while the model was reading the prompt or writing."""

    def __init__(self, partial: GenerationResult | None = None):
        super().__init__("generation aborted")
        self.partial = partial


class CancelToken:
    """Set from outside (an abort request); checked by the model between tokens and inside prompt evaluation."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


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
    ) -> GenerationResult:
        """Chat completion. ``grammar`` is GBNF; ``json_schema`` constrains output to that schema.

        Raises ``GenerationAborted`` (carrying what was produced so far) when ``cancel`` fires.
        """
        ...

    def count_tokens(self, text: str) -> int: ...
