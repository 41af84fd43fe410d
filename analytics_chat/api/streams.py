"""Waiting for an answer on the event loop: relays the worker's events to the client, and aborts the work
when the client goes away (Django cancels the response iterator on disconnect under ASGI)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis
from asgiref.sync import sync_to_async

from analytics_chat import channels, lifecycle
from analytics_chat.models import ChatMessage

from .serializers import ChatResponseSerializer

log = logging.getLogger(__name__)

# Without news from Redis for this many idle ticks (1 s each), look at the database: the answer may have
# ended while Redis was restarting, or its worker may have died.
DB_CHECK_EVERY_TICKS = 2


def sse(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


@sync_to_async
def _terminal_payload(message_uuid: str) -> dict[str, Any] | None:
    """The final response if the message has ended (after giving the sweep a chance to end it)."""
    message = ChatMessage.objects.get(uuid=message_uuid)
    if not message.is_terminal and lifecycle.check_stale(message):
        message.refresh_from_db()
    return ChatResponseSerializer(message).data if message.is_terminal else None


async def events_until_terminal(message_uuid: str) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
    """Every event of the message up to and including the terminal one; None for idle ticks."""
    idle_ticks = 0
    while True:
        try:
            async for item in channels.read_events(message_uuid):
                if item is None:
                    idle_ticks += 1
                    if idle_ticks % DB_CHECK_EVERY_TICKS == 0:
                        final = await _terminal_payload(message_uuid)
                        if final is not None:
                            yield (
                                ("done" if final["status"] == ChatMessage.Status.SUCCEEDED else "error"),
                                final,
                            )
                            return
                    yield None
                    continue
                idle_ticks = 0
                yield item
                if item[0] in channels.TERMINAL_EVENTS:
                    return
        except (redis.RedisError, OSError) as exc:
            # Redis went away: keep waiting on the database until it is back.
            log.warning("event stream of %s interrupted (%s); polling the database", message_uuid, exc)
            await asyncio.sleep(0.5)
            final = await _terminal_payload(message_uuid)
            if final is not None:
                yield ("done" if final["status"] == ChatMessage.Status.SUCCEEDED else "error"), final
                return
            yield None


async def relay(message_uuid: str, first_event: dict[str, Any], *, streaming: bool) -> AsyncIterator[bytes]:
    """The body of a generate response: SSE events, or the final ChatResponse as one JSON document."""
    finished = False
    try:
        if streaming:
            yield sse("start", first_event)
        async for item in events_until_terminal(message_uuid):
            if item is None:
                if streaming:
                    yield b": keep-alive\n\n"
                continue
            event, payload = item
            if event in channels.TERMINAL_EVENTS:
                finished = True
                yield sse(event, payload) if streaming else json.dumps(payload, default=str).encode()
                return
            if streaming:
                yield sse(event, payload)
    finally:
        if not finished:
            # The client left before the answer ended: stop the work, not just the connection.
            await asyncio.shield(sync_to_async(lifecycle.request_abort)(message_uuid))
