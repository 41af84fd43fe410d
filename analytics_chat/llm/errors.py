"""Errors of the model layer, each naming what was wrong so the API can answer with it."""

from __future__ import annotations


class UnknownModel(LookupError):
    """The requested model name is not registered, or is disabled."""

    def __init__(self, name: str | None, reason: str = "is not a registered model"):
        self.name = name
        label = repr(name) if name else "the default model"
        super().__init__(f"{label} {reason}")


class ModelUnavailable(RuntimeError):
    """The model is registered but cannot be loaded (missing or corrupt file, unsupported format)."""


class PromptTooLong(ValueError):
    """The prompt does not fit the model's context window."""

    def __init__(self, prompt_tokens: int, context_size: int):
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size
        super().__init__(
            f"the prompt has {prompt_tokens} tokens but the model's context holds {context_size}"
        )


class InvalidGrammar(ValueError):
    """A GBNF grammar (or a JSON schema turned into one) that llama.cpp could not parse."""
