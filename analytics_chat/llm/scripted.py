"""A deterministic stand-in for a model: answers from a JSON script, streaming word by word.

Script: ``{"rules": [{"match": "<regex on the last user message>", "response": "<text>"}],
"default": "...", "token_delay_ms": 20, "prompt_delay_ms": 0}``. The first matching rule answers.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from analytics_chat.llm.base import (
    CancelToken,
    GenerationOptions,
    GenerationResult,
    TextCallback,
)
from analytics_chat.llm.errors import ModelUnavailable
from analytics_chat.llm.files import resolve_model_path
from analytics_chat.models import LLMModel

WORD_PIECES = re.compile(r"\s*\S+")


class ScriptedGenerator:
    context_size = 1_000_000

    def __init__(self, model: LLMModel):
        path = resolve_model_path(model.path)
        try:
            script = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ModelUnavailable(f"model {model.name}: cannot read script {path}: {error}") from error
        self._setup(model.name, script)

    @classmethod
    def from_script(cls, name: str, script: dict[str, Any]) -> ScriptedGenerator:
        generator = cls.__new__(cls)
        generator._setup(name, script)
        return generator

    def _setup(self, name: str, script: dict[str, Any]) -> None:
        if not isinstance(script, dict):
            raise ModelUnavailable(f"model {name}: the script must be a JSON object")
        self.name = name
        try:
            self.rules = [
                (re.compile(rule["match"]), str(rule["response"])) for rule in script.get("rules", [])
            ]
        except (KeyError, TypeError, re.error) as error:
            raise ModelUnavailable(f"model {name}: bad rule in script: {error!r}") from error
        self.default = str(script.get("default", ""))
        self.token_delay = float(script.get("token_delay_ms", 20)) / 1000
        self.prompt_delay = float(script.get("prompt_delay_ms", 0)) / 1000

    def warm(
        self, messages: list[dict[str, str]], cancel: CancelToken | None = None, prefix_owner: str = ""
    ) -> bool:
        """Nothing to read ahead: a script has no prompt state."""
        return not (cancel is not None and cancel.cancelled)

    def count_tokens(self, text: str) -> int:
        return len(WORD_PIECES.findall(text))

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
        """The scripted answer (as-is also when JSON or a grammar is asked for)."""
        started = time.perf_counter()
        question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        response = next((text for pattern, text in self.rules if pattern.search(question)), self.default)
        result = GenerationResult(
            text="",
            finish_reason="aborted",
            prompt_tokens=sum(self.count_tokens(m.get("content", "")) for m in messages),
        )
        if cancel is not None and cancel.wait(self.prompt_delay):
            raise cancel.error(result)
        if cancel is None:
            time.sleep(self.prompt_delay)
        result.prompt_ms = _ms_since(started)
        words = WORD_PIECES.findall(response)
        if options.max_tokens:
            words = words[: options.max_tokens]
        for word in words:
            if cancel is not None and cancel.wait(self.token_delay):
                result.generation_ms = _ms_since(started) - result.prompt_ms
                raise cancel.error(result)
            if cancel is None:
                time.sleep(self.token_delay)
            if result.first_token_ms is None:
                result.first_token_ms = _ms_since(started)
            result.text += word
            result.completion_tokens += 1
            if on_text is not None:
                on_text(word)
        limited = options.max_tokens and len(WORD_PIECES.findall(response)) > options.max_tokens
        result.finish_reason = "length" if limited else "stop"
        result.generation_ms = _ms_since(started) - result.prompt_ms
        return result


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
