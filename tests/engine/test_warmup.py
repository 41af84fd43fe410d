"""The worker's warm-up: sources in order of need, and a question never waits for another source's."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics_chat.engine.warmup import SHARED_HEAD, WarmUp, sources_by_need
from analytics_chat.llm.base import GenerationAborted
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.models import ChatMessage
from catalog.models import DataSource
from catalog.sync import import_source
from tests.live import wait_until

# The warm-up runs in a thread of its own, with a database connection of its own: committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
READ_SECONDS = 0.4  # how long the stand-in model takes to read a prefix


@pytest.fixture
def sources(tmp_path) -> dict[str, DataSource]:
    found = {}
    for name in NAMES:
        path = tmp_path / f"{name}.sqlite"
        with sqlite3.connect(path) as conn:
            conn.execute(f"CREATE TABLE {name}_items (id INTEGER PRIMARY KEY, label TEXT)")
        found[name] = import_source(name, path, profile=False)
    return found


class Recorder:
    """The scripted model, noting which source's prompt each call read and whether it was cancelled."""

    def __init__(self):
        self.model = ScriptedGenerator.from_script(
            "reader", {"default": "x", "prompt_delay_ms": READ_SECONDS * 1000}
        )
        self.calls: list[tuple[str, str]] = []  # (source, "started" | "read" | "cancelled")
        self.lock = threading.Lock()  # one generation at a time, as the real model

    def complete(self, messages, **options):
        source = next((n for n in NAMES if f"Database {n}" in messages[0]["content"]), SHARED_HEAD)
        with self.lock:
            self.calls.append((source, "started"))
            try:
                result = self.model.complete(messages, **options)
            except GenerationAborted:
                self.calls.append((source, "cancelled"))
                raise
            self.calls.append((source, "read"))
            return result

    def reading(self) -> str | None:
        last = self.calls[-1] if self.calls else None
        return last[0] if last and last[1] == "started" else None


def start(warm_up: WarmUp, sources: list[DataSource], **options) -> threading.Thread:
    thread = threading.Thread(target=warm_up.run, args=(sources,), kwargs=options, daemon=True)
    thread.start()
    return thread


def test_sources_by_need_default_then_most_recently_asked_then_by_name(sources):
    user = get_user_model().objects.create_user("dora")
    now = timezone.now()
    for scope, minutes_ago in [("echo", 30), ("bravo.bravo_items", 10), ("", 5), ("echo", 60)]:
        message = ChatMessage.objects.create(owner=user, ask="?", scope=scope)
        ChatMessage.objects.filter(pk=message.pk).update(created_at=now - timedelta(minutes=minutes_ago))

    assert [s.name for s in sources_by_need("charlie", 10)] == ["charlie", "bravo", "echo", "alpha", "delta"]
    assert [s.name for s in sources_by_need("charlie", 2)] == ["charlie", "bravo"]
    sources["bravo"].enabled = False
    sources["bravo"].save()
    assert [s.name for s in sources_by_need("nowhere", 3)] == ["echo", "alpha", "charlie"]


def test_an_answer_cancels_another_sources_warm_up_and_none_starts_until_it_ends(sources):
    model = Recorder()
    warm_up = WarmUp(model)
    thread = start(warm_up, [sources[n] for n in ("alpha", "bravo", "charlie")])
    wait_until(lambda: model.reading() == "alpha", 5, 0.01, "the warm-up of alpha")

    with warm_up.answering("echo"):
        wait_until(lambda: ("alpha", "cancelled") in model.calls, 0.2, 0.01, "alpha's warm-up to step aside")
        with model.lock:  # the model is free for the answer
            time.sleep(3 * READ_SECONDS)  # the answer takes longer than a warm-up: none starts meanwhile
        assert model.calls == [
            (SHARED_HEAD, "started"), (SHARED_HEAD, "read"), ("alpha", "started"), ("alpha", "cancelled"),
        ]  # fmt: skip

    thread.join(10)
    assert warm_up.warmed == [SHARED_HEAD, "alpha", "bravo", "charlie"] and warm_up.yielded == 1


def test_the_warm_up_of_the_asked_source_goes_on(sources):
    model = Recorder()
    warm_up = WarmUp(model)
    thread = start(warm_up, [sources["alpha"], sources["bravo"]])
    wait_until(lambda: model.reading() == "alpha", 5, 0.01, "the warm-up of alpha")
    with warm_up.answering("alpha"):
        wait_until(lambda: ("alpha", "read") in model.calls, 2 * READ_SECONDS, 0.01, "alpha's prefix")
        time.sleep(READ_SECONDS)
        assert not any(source == "bravo" for source, _ in model.calls)
    thread.join(10)
    assert warm_up.warmed == [SHARED_HEAD, "alpha", "bravo"] and warm_up.yielded == 0


def test_no_more_prefixes_than_the_model_keeps_and_stop_ends_it(sources):
    model = Recorder()
    warm_up = WarmUp(model)
    start(warm_up, [sources[n] for n in NAMES], max_prefixes=3).join(10)
    # the head all SQL prompts share first, then the sources in the order given
    assert warm_up.warmed == [SHARED_HEAD, "alpha", "bravo"]

    stopped = WarmUp(model)
    thread = start(stopped, [sources[n] for n in NAMES])
    wait_until(lambda: len(stopped.warmed) > 1, 5, 0.01, "a first source")
    stopped.stop()
    thread.join(2 * READ_SECONDS)
    assert not thread.is_alive() and len(stopped.warmed) < 1 + len(NAMES)


def test_a_question_for_another_model_ends_the_warm_up_instead_of_waiting_for_it(sources, tmp_path):
    from analytics_chat.llm import registry
    from analytics_chat.models import LLMModel
    from analytics_chat.pipeline import tasks

    for name, default in (("reader", True), ("other", False)):
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps({"default": "x", "prompt_delay_ms": READ_SECONDS * 1000}))
        LLMModel.objects.create(
            name=name, backend=LLMModel.Backend.SCRIPTED, path=str(script), is_default=default
        )
    user = get_user_model().objects.create_user("olga")
    warm_up = WarmUp(registry.get_generator())
    thread = start(warm_up, [sources[n] for n in NAMES])
    tasks._warm_up = warm_up
    try:
        same = ChatMessage.objects.create(owner=user, ask="?", scope="alpha", model="reader")
        with tasks._warm_up_steps_aside(same):
            assert tasks._warm_up is warm_up and thread.is_alive()  # the same model: it only steps aside
        other = ChatMessage.objects.create(owner=user, ask="?", scope="alpha", model="other")
        with tasks._warm_up_steps_aside(other):
            thread.join(2 * READ_SECONDS)
            assert not thread.is_alive(), "the warm-up for a model about to be unloaded goes on"
            assert tasks._warm_up is None
            assert registry.get_generator("other").name == "other"
    finally:
        tasks._warm_up = None
        registry.unload()
