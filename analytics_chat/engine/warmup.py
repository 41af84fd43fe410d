"""Read sources' system prompts ahead of their questions, so the first question on a source pays only for
its own tokens (the model layer keeps the KV state of every prefix it has read).

A worker warms in order of need: first the head every source's SQL prompt shares (so that a source read
for the first time reads only its own schema), then the default source, the sources asked about most
recently, and the rest by name. It never makes a question wait for another source: while an answer runs no warm-up
starts, and one under way for another source is cancelled (and read again after the answer). A question's
own source needs no warm-up at all: its answer reads the prefix, and the model keeps it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from django.db.models import Max

from analytics_chat.llm.base import CancelToken, GenerationAborted, GenerationOptions, TextGenerator
from catalog.models import DataSource

from . import prompts
from .linking import SchemaView, link_schema
from .semantic_path import vocabulary

log = logging.getLogger(__name__)
PLACEHOLDER_QUESTION = "?"
SHARED_HEAD = "(every source)"  # the name the warm-up gives the shared head of the SQL prompts
RECENT_MESSAGES = 500  # how far back "most recently asked" looks
WARM_UP_OPTIONS = GenerationOptions(temperature=0.0, max_tokens=1)


def prefix_messages(source: DataSource) -> list[list[dict[str, str]]]:
    """The message lists whose first message is a prefix the pipeline will use on this source."""
    found = []
    vocab = vocabulary(source)
    if vocab.metric_names:
        found.append(prompts.semantic_messages(PLACEHOLDER_QUESTION, vocab))
    found.append(
        prompts.sql_messages(PLACEHOLDER_QUESTION, link_schema(PLACEHOLDER_QUESTION, source, None, []))
    )
    return found


def shared_head_messages() -> list[dict[str, str]]:
    """The head every source's SQL prompt begins with (instructions and examples), on its own. Read first
    after a restart: a source read for the first time then reads only its own schema, since the model
    starts from the saved prefix that shares the most of a new prompt."""
    nothing = SchemaView(source_name="", source_description="", tables=[], joins=[])
    return [
        {"role": "system", "content": prompts.system_prompt(nothing)},
        {"role": "user", "content": PLACEHOLDER_QUESTION},
    ]


def warm_prefixes(generator: TextGenerator, sources: list[DataSource]) -> int:
    """Evaluate the prefixes of these sources; returns how many were read."""
    read = 0
    for source in sources:
        for messages in prefix_messages(source):
            started = time.perf_counter()
            generator.warm(
                messages, prefix_owner=source.name
            )  # gives way to any question that wants the model meanwhile
            read += 1
            log.info("warmed a prompt prefix of %s in %.1fs", source.name, time.perf_counter() - started)
    return read


def sources_by_need(default_source: str, limit: int) -> list[DataSource]:
    """Enabled sources in the order a worker should warm them: the default one, then the most recently
    asked about, then the rest by name; at most ``limit``."""
    from analytics_chat.models import ChatMessage
    from analytics_chat.pipeline.tasks import parse_scope

    enabled = {s.name: s for s in DataSource.objects.filter(enabled=True).order_by("name")}
    recent = (
        ChatMessage.objects.values("scope")
        .annotate(last=Max("created_at"))
        .order_by("-last")[:RECENT_MESSAGES]
    )
    names = [default_source, *(parse_scope(row["scope"]).source for row in recent), *enabled]
    ordered = list(dict.fromkeys(name for name in names if name in enabled))
    return [enabled[name] for name in ordered[:limit]]


class WarmUp:
    """A worker's background warm-up, stepping aside for answers (``answering``)."""

    def __init__(self, generator: TextGenerator):
        self.generator = generator
        self._changed = threading.Condition()
        self._answers = 0
        self._current: tuple[str, CancelToken] | None = None  # the source being read, and its cancel token
        self._stopped = False
        self.warmed: list[str] = []  # source names, in the order their prefixes were read
        self.yielded = 0  # warm-ups cancelled for an answer

    @contextmanager
    def answering(self, source: str) -> Iterator[None]:
        """While an answer on ``source`` runs: no warm-up starts, and one of another source stops."""
        with self._changed:
            self._answers += 1
            if self._current is not None and self._current[0] != source:
                self._current[1].cancel()
        try:
            yield
        finally:
            with self._changed:
                self._answers -= 1
                self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            if self._current is not None:
                self._current[1].cancel()
            self._changed.notify_all()

    def run(self, sources: list[DataSource], max_prefixes: int | None = None) -> None:
        """Warm these sources in order, at most ``max_prefixes`` prefixes: more would push the first ones
        out of the model's cache of saved prefixes."""
        log.info(
            "warming the prompts of %s, in this order", ", ".join(s.name for s in sources) or "no source"
        )
        try:
            if not sources or not self._warm(SHARED_HEAD, shared_head_messages()):
                return
            read = 1
            for source in sources:
                try:
                    prefixes = prefix_messages(source)
                except Exception:  # one broken source (no enabled tables, a missing file) skips only itself
                    log.exception("no warm-up of %s", source.name)
                    continue
                for messages in prefixes:
                    if max_prefixes is not None and read >= max_prefixes:
                        return
                    if not self._warm(source.name, messages):
                        return
                    read += 1
        finally:
            connections.close_all()  # this thread ends: its own connections go with it

    def _warm(self, name: str, messages: list[dict[str, str]]) -> bool:
        """Read one prefix, as often as answers interrupt it; False once stopped."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._answers == 0 or self._stopped)
                if self._stopped:
                    return False
                cancel = CancelToken()
                self._current = (name, cancel)
            started = time.perf_counter()
            try:
                owner = "" if name == SHARED_HEAD else name  # the shared head belongs to no source
                self.generator.complete(messages, options=WARM_UP_OPTIONS, cancel=cancel, prefix_owner=owner)
            except GenerationAborted:
                if self._stopped:
                    return False
                self.yielded += 1
                log.info("warm-up of %s stepped aside for an answer", name)
                continue
            finally:
                with self._changed:
                    self._current = None
            self.warmed.append(name)
            log.info("warmed a prompt prefix of %s in %.1fs", name, time.perf_counter() - started)
            return True
