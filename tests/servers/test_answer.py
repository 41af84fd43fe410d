"""A question answered end to end on each server with the real 0.5B model: the pipeline's own stages."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from analytics_chat.engine.evaluation import Question, answer_question
from catalog.models import DataSource

from .conftest import Server

SMALL_MODEL = django_settings.MODELS_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

pytestmark = [pytest.mark.model, pytest.mark.django_db]


@pytest.fixture(scope="module")
def small_model(real_model_available):
    from analytics_chat.llm.llama import LlamaGenerator
    from analytics_chat.models import LLMModel

    return LlamaGenerator(
        LLMModel(name="qwen-0.5b-test", path=str(SMALL_MODEL), context_size=4096, threads=2)
    )


def test_a_question_is_answered_from_the_server(source: DataSource, server: Server, small_model) -> None:
    question = Question(id="q", question="How many customers are there?", gold_sql=None, source=source.name)
    state, _first_token_ms, error = answer_question(question, small_model, [])
    assert error is None, error
    assert state.path and state.sql
    assert state.data["rows"] == [[5]]
    assert "{data}" in state.response
