"""A failed answer's error_info: one code per failure, and nothing of the service's internals."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from analytics_chat.errors import ErrorCode
from analytics_chat.llm.base import CancelToken
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.models import ChatMessage
from analytics_chat.pipeline import tasks

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status
README = Path(__file__).resolve().parents[2] / "README.md"


class Broken(ScriptedGenerator):
    """A model that fails the way a bug inside the service would: an exception naming one of its files."""

    def complete(self, messages, **kwargs):
        raise RuntimeError(f"decoder state corrupt, see {__file__}")


@pytest.fixture
def user():
    return get_user_model().objects.create_user("erin", password="x")


def answer(user, generator, scope: str = "demo") -> ChatMessage:
    message = ChatMessage.objects.create(
        owner=user, ask="How many orders?", scope=scope, status=Status.RUNNING
    )
    tasks.answer(message, generator, CancelToken(max_seconds=30))
    message.refresh_from_db()
    return message


def test_an_unexpected_exception_reaches_the_client_without_internals(demo_source, user, caplog):
    broken = Broken.from_script("broken", {"default": "SELECT 1", "token_delay_ms": 0})
    with caplog.at_level(logging.ERROR, logger="analytics_chat.pipeline.tasks"):
        message = answer(user, broken)

    assert message.status == Status.FAILED and message.finish_reason == "error"
    info = message.error_info
    assert info["code"] == ErrorCode.INTERNAL_ERROR and info["stage"] == "sql"
    shown = str(info)
    assert "Traceback" not in shown and "RuntimeError" not in shown and "decoder state" not in shown
    assert not re.search(r"[\w/\\]+\.py\b", shown), shown
    assert str(message.uuid) in info["message"]  # what the operator looks up in the log
    # ... where the whole story is
    logged = next(r for r in caplog.records if str(message.uuid) in r.getMessage())
    assert logged.exc_info and "decoder state corrupt" in str(logged.exc_info[1])


def test_a_source_that_does_not_exist_is_unknown_scope(demo_source, user):
    message = answer(user, ScriptedGenerator.from_script("s", {"default": "SELECT 1"}), scope="nope")
    assert message.status == Status.FAILED
    assert message.error_info["code"] == "unknown_scope" and message.error_info["stage"] == "context"


def test_the_readme_lists_every_error_code():
    readme = README.read_text()
    assert [code.value for code in ErrorCode if f"`{code.value}`" not in readme] == []
