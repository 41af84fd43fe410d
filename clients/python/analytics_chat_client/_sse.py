"""Server-sent events from a line iterator: `event: name` / `data: json` frames separated by blank lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatEvent:
    """One streamed event: start, stage, delta, done or error. `data` is the decoded JSON payload."""

    event: str
    data: Any = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.event in {"done", "error"}


class _FrameBuilder:
    def __init__(self) -> None:
        self.event = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> ChatEvent | None:
        """Take one line; return an event when a frame ends."""
        line = line.rstrip("\r\n")
        if line == "":
            return self.flush()
        if line.startswith(":"):  # a comment, e.g. a heartbeat
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        return None

    def flush(self) -> ChatEvent | None:
        event = None
        if self.data:
            raw = "\n".join(self.data)
            try:
                payload = json.loads(raw)
            except json.JSONDecodeError:
                payload = raw
            event = ChatEvent(self.event, payload)
        self.event, self.data = "message", []
        return event


def iter_events(lines: Iterable[str]) -> Iterator[ChatEvent]:
    builder = _FrameBuilder()
    for line in lines:
        if (event := builder.feed(line)) is not None:
            yield event
    if (event := builder.flush()) is not None:
        yield event


async def aiter_events(lines: AsyncIterable[str]) -> AsyncIterator[ChatEvent]:
    builder = _FrameBuilder()
    async for line in lines:
        if (event := builder.feed(line)) is not None:
            yield event
    if (event := builder.flush()) is not None:
        yield event
