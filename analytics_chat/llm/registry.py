"""Which model answers: resolve a name to its LLMModel row, and keep one loaded generator per process.

A worker holds at most one loaded model: asking for another name replaces it (a 1.5B model and its
context take over a gigabyte). A changed row (new file, other context size) is reloaded.
"""

from __future__ import annotations

import threading

from django.conf import settings

from analytics_chat.llm.base import TextGenerator
from analytics_chat.llm.errors import UnknownModel
from analytics_chat.models import LLMModel

_lock = threading.Lock()
_loaded: tuple[tuple, TextGenerator] | None = None


def resolve_model(name: str | None = None) -> LLMModel:
    """The enabled LLMModel named ``name`` (the default model when empty); UnknownModel otherwise."""
    if name:
        model = LLMModel.objects.filter(name=name).first()
        if model is None:
            raise UnknownModel(name)
        if not model.enabled:
            raise UnknownModel(name, "is disabled")
        return model
    model = LLMModel.objects.filter(is_default=True, enabled=True).first()
    if model is None:
        configured = settings.CHAT.get("DEFAULT_MODEL")
        model = LLMModel.objects.filter(name=configured, enabled=True).first() if configured else None
    if model is None:
        raise UnknownModel(
            None, "is not set: register one with `python manage.py fetch_model qwen2.5-coder-1.5b`"
        )
    return model


def get_generator(name: str | None = None) -> TextGenerator:
    """The loaded generator for a model name (the default when None), loading it on first use."""
    global _loaded
    model = resolve_model(name)
    fingerprint = _fingerprint(model)
    with _lock:
        if _loaded is not None and _loaded[0] == fingerprint:
            return _loaded[1]
        unload()
        generator = load_generator(model)
        _loaded = (fingerprint, generator)
        return generator


def is_loaded(name: str | None = None) -> bool:
    """Whether ``get_generator(name)`` would return the model this process holds now (an unknown or
    disabled name: True, since loading it fails without unloading anything)."""
    try:
        fingerprint = _fingerprint(resolve_model(name))
    except UnknownModel:
        return True
    loaded = _loaded
    return loaded is not None and loaded[0] == fingerprint


def load_generator(model: LLMModel) -> TextGenerator:
    """A new generator for this row (not cached: get_generator is the per-process entry point)."""
    if model.backend == LLMModel.Backend.SCRIPTED:
        from analytics_chat.llm.scripted import ScriptedGenerator

        return ScriptedGenerator(model)
    from analytics_chat.llm.llama import LlamaGenerator  # imports llama.cpp only where a model runs

    return LlamaGenerator(model)


def unload() -> None:
    """Free the loaded model (waits for a running generation to finish)."""
    global _loaded
    if _loaded is not None:
        generator = _loaded[1]
        _loaded = None
        close = getattr(generator, "close", None)
        if close is not None:
            close()


def _fingerprint(model: LLMModel) -> tuple:
    return (
        model.pk,
        model.name,
        model.backend,
        model.path,
        model.chat_format,
        model.context_size,
        model.threads,
        model.batch_size,
        model.sha256,
        model.size_bytes,
        repr(sorted((model.default_options or {}).items())),
    )
