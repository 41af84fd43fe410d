"""The one object every pipeline stage reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analytics_chat.errors import ErrorCode
from analytics_chat.llm.base import CancelToken, GenerationOptions, GenerationResult, TextGenerator


@dataclass
class Scope:
    """What the question may touch: one data source, optionally narrowed to some of its tables."""

    source: str
    tables: list[str] = field(default_factory=list)  # empty: every enabled table of the source

    def __str__(self) -> str:
        return self.source if not self.tables else ",".join(f"{self.source}.{t}" for t in self.tables)


@dataclass
class Turn:
    """An earlier question of the thread and the SQL that answered it."""

    ask: str
    sql: str | None = None
    semantic_query: dict[str, Any] | None = None
    response: str = ""


# Intents chosen by the route stage; they decide the path and the placeholders of the response.
DATA = "data"  # answer with a query (semantic path or SQL path)
CATALOG = "catalog"  # "what data do you have"
DEFINITION = "definition"  # "how is revenue defined"
UNANSWERABLE = "unanswerable"


@dataclass
class AnswerState:
    # --- the request
    message_uuid: str
    ask: str
    scope: Scope
    model_name: str
    options: GenerationOptions = field(default_factory=GenerationOptions)
    history: list[Turn] = field(default_factory=list)

    # --- filled by the stages, in order
    intent: str | None = None
    path: str | None = None  # "semantic" or "sql"
    wants: set[str] = field(default_factory=set)  # placeholders asked for: "chart_spec", "sql", ...
    semantic_context: dict[str, Any] | None = None
    catalog: dict[str, Any] | None = None
    matched_metrics: list[str] = field(
        default_factory=list
    )  # metrics the question names (retrieval score > 0)
    semantic_query: dict[str, Any] | None = None
    sql: str | None = None
    sql_attempts: list[dict[str, Any]] = field(default_factory=list)  # each draft and its error
    facts: list[str] = field(default_factory=list)  # what the question states that the plan must contain
    refusal: str = ""  # why the question cannot be answered from this data (intent UNANSWERABLE)
    data: dict[str, Any] | None = None  # {"columns", "types", "rows", "row_count", "truncated"}
    chart_spec: dict[str, Any] | None = None
    explanation: dict[str, Any] | None = None  # how the answer was computed, in words (presentation.explain)
    response: str = ""

    # --- bookkeeping
    is_new: bool = True
    finish_reason: str = ""
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0}
    )
    timings_ms: dict[str, float] = field(default_factory=dict)

    def add_usage(self, result: GenerationResult) -> None:
        self.usage["prompt_tokens"] += result.prompt_tokens
        self.usage["cached_prompt_tokens"] += result.cached_prompt_tokens
        self.usage["completion_tokens"] += result.completion_tokens
        if result.finish_reason:
            self.finish_reason = result.finish_reason

    @property
    def response_data(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "sql": self.sql,
            "chart_spec": self.chart_spec,
            "semantic_context": self.semantic_context,
            "catalog": self.catalog,
            "explanation": self.explanation,
        }


@dataclass
class StageContext:
    """What a stage may use besides the state: the model, the cancel token and an event sink."""

    generator: TextGenerator | None
    cancel: CancelToken
    emit: Callable[[str, dict[str, Any]], None] = lambda event, payload: None

    def emit_text(self, text: str) -> None:
        self.emit("delta", {"text": text})


class StageError(Exception):
    """A stage could not do its part; ``code`` and ``details`` go into the message's error_info."""

    def __init__(self, code: ErrorCode, message: str, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
