"""The time budget of an answer: the setting, a request's max_seconds, and a message that runs past it."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIRequestFactory

from analytics_chat import channels
from analytics_chat.api.serializers import ChatRequestSerializer
from analytics_chat.api.views import HARD_LIMIT_GRACE_SECONDS, SOFT_LIMIT_GRACE_SECONDS, enqueue
from analytics_chat.llm.base import CancelToken
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.models import ChatMessage
from analytics_chat.pipeline import tasks

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status


@pytest.fixture
def user():
    return get_user_model().objects.create_user("dora", password="x")


def test_a_valid_max_seconds_is_kept_with_the_message_options(demo_catalog, user):
    request = APIRequestFactory().post("/api/chat/generate")
    request.user = user
    serializer = ChatRequestSerializer(data={"ask": "hi", "max_seconds": 5}, context={"request": request})
    assert serializer.is_valid(), serializer.errors
    assert serializer.options() == {"max_seconds": 5.0}


def test_celery_limits_follow_the_budget(user, monkeypatch, settings):
    sent = {}
    monkeypatch.setattr(tasks.answer_message, "apply_async", lambda **kwargs: sent.update(kwargs))
    message = ChatMessage.objects.create(owner=user, ask="q", scope="demo", options={"max_seconds": 5})
    enqueue(message)
    assert sent["soft_time_limit"] == 5 + SOFT_LIMIT_GRACE_SECONDS
    assert sent["time_limit"] == 5 + HARD_LIMIT_GRACE_SECONDS
    settings.CHAT = {**settings.CHAT, "MAX_SECONDS": 12}
    enqueue(ChatMessage.objects.create(owner=user, ask="q", scope="demo"))
    assert sent["soft_time_limit"] == 12 + SOFT_LIMIT_GRACE_SECONDS


def test_an_answer_past_its_budget_ends_failed_with_what_it_wrote(demo_source, user):
    slow = ScriptedGenerator.from_script(
        "slow", {"default": " ".join(["SELECT"] + ["1 +"] * 400 + ["1"]), "token_delay_ms": 20}
    )
    message = ChatMessage.objects.create(
        owner=user, ask="How many orders?", scope="demo", options={"max_seconds": 1.0}, status=Status.RUNNING
    )
    started = time.monotonic()
    tasks.answer(message, slow, CancelToken(max_seconds=tasks.max_seconds_for(message)))
    took = time.monotonic() - started
    message.refresh_from_db()
    assert took < 3.0, f"the answer ran {took:.2f} s on a 1 s budget (its script takes 8 s)"
    assert message.status == Status.FAILED and message.finish_reason == "time"
    info = message.error_info
    assert info["code"] == "time_budget" and info["stage"] == "sql" and info["max_seconds"] == 1.0
    assert 1.0 <= info["elapsed_seconds"] < 3.0
    assert "1 s time budget" in info["message"] and "sql stage" in info["message"]
    assert info["partial_output"].startswith("SELECT 1 +")
    assert message.usage["completion_tokens"] > 0


def test_the_watchdog_calls_out_a_job_that_runs_on_after_its_budget(user):
    message = ChatMessage.objects.create(owner=user, ask="q", scope="demo")
    token = CancelToken(max_seconds=0.2)
    stuck = []
    with channels.CancelWatcher(
        str(message.uuid), token.cancel, token=token, on_stuck=lambda: stuck.append(time.monotonic()),
        stuck_after=0.3,
    ):  # fmt: skip
        time.sleep(1.0)  # a job that never looks at its token
    assert len(stuck) == 1 and stuck[0] - token.started >= 0.5


def test_a_job_that_stops_in_time_is_left_alone(user):
    message = ChatMessage.objects.create(owner=user, ask="q", scope="demo")
    token = CancelToken(max_seconds=0.2)
    stuck = []
    with channels.CancelWatcher(
        str(message.uuid), token.cancel, token=token, on_stuck=lambda: stuck.append(1), stuck_after=0.5
    ):
        token.wait(5)
    time.sleep(0.7)
    assert stuck == []


def test_a_cut_off_job_ends_failed_and_says_the_watchdog_stopped_it(user):
    message = ChatMessage.objects.create(
        owner=user, ask="q", scope="demo", status=Status.RUNNING, current_stage="sql"
    )
    token = CancelToken(max_seconds=0.01)
    time.sleep(0.02)
    assert token.cancelled
    tasks.cut_off(str(message.uuid), token)  # in a test process: writes the end, does not exit
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.finish_reason == "time"
    assert message.error_info["code"] == "time_budget" and message.error_info["watchdog"] is True
    assert message.error_info["stage"] == "sql"
