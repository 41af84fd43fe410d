"""Fixtures of the model-layer tests: the real 0.5B test model, loaded once per test session."""

from __future__ import annotations

import os

import pytest
from django.core.management import call_command

from analytics_chat.llm.files import KNOWN_MODELS, models_dir

TEST_MODEL = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="session")
def test_model_file():
    """The 0.5B GGUF in the models folder; skipped when absent, failed when AC_REQUIRE_MODEL is set."""
    path = models_dir() / KNOWN_MODELS[TEST_MODEL].file_name
    if not path.is_file():
        message = f"{path} is missing: run `python manage.py fetch_model {TEST_MODEL}` first"
        if os.environ.get("AC_REQUIRE_MODEL"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def test_model(test_model_file, django_db_setup, django_db_blocker):
    """The LLMModel row of the 0.5B model in the test database, registered by fetch_model itself."""
    from analytics_chat.models import LLMModel

    with django_db_blocker.unblock():
        call_command("fetch_model", TEST_MODEL)  # the file is present: verified from its hash sidecar
        LLMModel.objects.filter(name=TEST_MODEL).update(context_size=2048, threads=2)
        return LLMModel.objects.get(name=TEST_MODEL)


@pytest.fixture(scope="session")
def generator(test_model):
    from analytics_chat.llm.llama import LlamaGenerator

    loaded = LlamaGenerator(test_model)
    yield loaded
    loaded.close()
