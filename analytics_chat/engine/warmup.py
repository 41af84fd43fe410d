"""Read each source's system prompts once when a worker starts, so the first question on a source pays
only for its own tokens (the model layer keeps the KV state of every prefix it has read)."""

from __future__ import annotations

import logging
import time

from analytics_chat.llm.base import TextGenerator
from catalog.models import DataSource

from . import prompts
from .linking import link_schema
from .semantic_path import vocabulary

log = logging.getLogger(__name__)
PLACEHOLDER_QUESTION = "?"


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


def warm_prefixes(generator: TextGenerator, sources: list[DataSource]) -> int:
    """Evaluate the prefixes of these sources; returns how many were read."""
    read = 0
    for source in sources:
        for messages in prefix_messages(source):
            started = time.perf_counter()
            generator.warm(messages)  # gives way to any question that wants the model meanwhile
            read += 1
            log.info("warmed a prompt prefix of %s in %.1fs", source.name, time.perf_counter() - started)
    return read
