"""The scripted stand-in, and the registry that resolves and caches generators."""

from __future__ import annotations

import json
import threading
import time

import pytest

from analytics_chat.llm import registry
from analytics_chat.llm.base import CancelToken, GenerationAborted, GenerationOptions
from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.models import LLMModel

SCRIPT = {
    "rules": [{"match": r"(?i)how many", "response": "SELECT count(*) FROM orders"}],
    "default": "I cannot answer that from this data.",
    "token_delay_ms": 5,
}


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "schema"}, {"role": "user", "content": text}]


def test_scripted_streams_the_matching_rule_word_by_word():
    generator = ScriptedGenerator.from_script("scripted", SCRIPT)
    pieces: list[str] = []
    result = generator.complete(user("How many orders?"), options=GenerationOptions(), on_text=pieces.append)
    assert pieces == ["SELECT", " count(*)", " FROM", " orders"]
    assert result.text == "SELECT count(*) FROM orders"
    assert (result.finish_reason, result.completion_tokens) == ("stop", 4)
    assert result.prompt_tokens == 4
    fallback = generator.complete(
        user("Why?"), options=GenerationOptions(max_tokens=2), json_schema={"type": "object"}
    )
    assert (fallback.text, fallback.finish_reason) == ("I cannot", "length")


def test_scripted_honours_cancel_mid_stream():
    generator = ScriptedGenerator.from_script(
        "slow", {**SCRIPT, "default": "word " * 200, "token_delay_ms": 20}
    )
    cancel = CancelToken()
    pieces: list[str] = []
    threading.Timer(0.15, cancel.cancel).start()
    started = time.perf_counter()
    with pytest.raises(GenerationAborted) as aborted:
        generator.complete(
            user("Tell me more"), options=GenerationOptions(), on_text=pieces.append, cancel=cancel
        )
    assert time.perf_counter() - started < 0.5
    partial = aborted.value.partial
    assert partial.finish_reason == "aborted"
    assert 0 < partial.completion_tokens < 200
    assert partial.text == "".join(pieces)


def test_scripted_rejects_a_bad_script():
    with pytest.raises(ModelUnavailable, match="bad rule"):
        ScriptedGenerator.from_script("bad", {"rules": [{"match": "("}]})


@pytest.fixture
def scripted_models(db, tmp_path):
    models = []
    for name, default in (("alpha", True), ("beta", False)):
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps({**SCRIPT, "default": f"I am {name}."}))
        models.append(
            LLMModel.objects.create(
                name=name, backend=LLMModel.Backend.SCRIPTED, path=str(script), is_default=default
            )
        )
    yield models
    registry.unload()


def test_resolve_model_names_the_unknown_and_the_disabled(scripted_models):
    assert registry.resolve_model(None).name == "alpha"
    assert registry.resolve_model("beta").name == "beta"
    with pytest.raises(UnknownModel, match="'gamma' is not a registered model"):
        registry.resolve_model("gamma")
    LLMModel.objects.filter(name="beta").update(enabled=False)
    with pytest.raises(UnknownModel, match="'beta' is disabled"):
        registry.resolve_model("beta")


def test_get_generator_loads_once_and_replaces_on_another_name(scripted_models):
    alpha = registry.get_generator()
    assert registry.get_generator("alpha") is alpha
    beta = registry.get_generator("beta")
    assert beta is not alpha
    assert beta.complete(user("?"), options=GenerationOptions()).text == "I am beta."
    assert registry.get_generator("alpha") is not alpha  # beta replaced it: one loaded model per process
    LLMModel.objects.filter(name="alpha").update(context_size=1024)
    reloaded = registry.get_generator("alpha")
    assert registry.get_generator("alpha") is reloaded


def test_no_default_model_is_a_clear_error(db, settings):
    settings.CHAT = {**settings.CHAT, "DEFAULT_MODEL": "missing-default"}
    with pytest.raises(UnknownModel, match="fetch_model"):
        registry.resolve_model(None)
