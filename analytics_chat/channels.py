"""Redis keys shared by the web server and the workers for one message.

- ``ac:events:<uuid>``: a Redis stream of events (start, stage, delta, done/error). A stream, not pub/sub,
  so a client that connects late still reads every event from the first one.
- ``ac:cancel:<uuid>``: set when someone aborts; the worker polls it and fires the cancel token.
- ``ac:heartbeat:<uuid>``: refreshed by the worker while it runs; the sweep fails messages whose
  heartbeat expired (their worker died).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

EVENT_TTL_SECONDS = 3600
TERMINAL_EVENTS = frozenset({"done", "error"})


def events_key(message_uuid: str) -> str:
    return f"ac:events:{message_uuid}"


def cancel_key(message_uuid: str) -> str:
    return f"ac:cancel:{message_uuid}"


def heartbeat_key(message_uuid: str) -> str:
    return f"ac:heartbeat:{message_uuid}"


@cache
def _pool(url: str) -> redis.ConnectionPool:
    return redis.ConnectionPool.from_url(
        url, health_check_interval=10, socket_timeout=10, socket_connect_timeout=5
    )


def client() -> redis.Redis:
    """A client from a per-process pool; it reconnects by itself after a Redis restart."""
    return redis.Redis(connection_pool=_pool(settings.REDIS_URL))


def async_client() -> aioredis.Redis:
    # One per request: asyncio pools are bound to the loop that created them.
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5)


def publish(message_uuid: str, event: str, payload: dict[str, Any]) -> None:
    key = events_key(message_uuid)
    conn = client()
    pipe = conn.pipeline(transaction=False)
    pipe.xadd(
        key, {"event": event, "data": json.dumps(payload, default=str)}, maxlen=20_000, approximate=True
    )
    pipe.expire(key, EVENT_TTL_SECONDS)
    pipe.execute()


def request_cancel(message_uuid: str) -> None:
    client().set(cancel_key(message_uuid), "1", ex=EVENT_TTL_SECONDS)


def is_cancel_requested(message_uuid: str) -> bool:
    return bool(client().exists(cancel_key(message_uuid)))


def beat(message_uuid: str) -> None:
    client().set(heartbeat_key(message_uuid), "1", ex=settings.CHAT["STALE_AFTER_SECONDS"])


def has_heartbeat(message_uuid: str) -> bool:
    return bool(client().exists(heartbeat_key(message_uuid)))


def clear_heartbeat(message_uuid: str) -> None:
    client().delete(heartbeat_key(message_uuid))


async def read_events(
    message_uuid: str, *, block_ms: int = 1000
) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
    """Yield (event, payload) from the first event on; yield None after each idle ``block_ms``.

    The None ticks let the caller check for a dead worker while nothing arrives.
    """
    conn = async_client()
    last_id = "0-0"
    key = events_key(message_uuid)
    try:
        while True:
            # [(stream key, [(entry id, {field: value})])]; redis-py types the reply as Any | int.
            batches: list[Any] = await conn.xread({key: last_id}, block=block_ms, count=100)  # type: ignore[assignment]
            if not batches:
                yield None
                continue
            for _key, entries in batches:
                for entry_id, fields in entries:
                    last_id = entry_id
                    event = fields[b"event"].decode()
                    yield event, json.loads(fields[b"data"])
    finally:
        await conn.aclose()


class CancelWatcher:
    """While a job runs: poll the cancel flag and beat the heartbeat, from a background thread; and be its
    watchdog: a job still running ``stuck_after`` seconds after its token fired (an abort, or the end of
    its time budget) is stuck where nothing checks the token, and ``on_stuck`` is called once.

    Polling every 50 ms keeps abort latency far under a second at the cost of 20 cheap GETs a second.
    """

    def __init__(
        self,
        message_uuid: str,
        on_cancel,
        *,
        poll_seconds: float = 0.05,
        token=None,
        on_stuck=None,
        stuck_after: float = 5.0,
    ) -> None:
        self.message_uuid = message_uuid
        self.on_cancel = on_cancel
        self.poll_seconds = poll_seconds
        self.token = token
        self.on_stuck = on_stuck
        self.stuck_after = stuck_after
        self._fired_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cancel-watch-{message_uuid}", daemon=True)

    def __enter__(self) -> CancelWatcher:
        beat(self.message_uuid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        try:
            clear_heartbeat(self.message_uuid)
        except redis.RedisError:
            pass  # the key expires by itself

    def _run(self) -> None:
        beat_every = settings.CHAT["HEARTBEAT_SECONDS"]
        since_beat = 0.0
        fired = False
        while not self._stop.wait(self.poll_seconds):
            if self._watch():
                return
            try:
                if not fired and is_cancel_requested(self.message_uuid):
                    fired = True
                    self.on_cancel()
                since_beat += self.poll_seconds
                if since_beat >= beat_every:
                    since_beat = 0.0
                    beat(self.message_uuid)
            except redis.RedisError:
                # Redis restarting: keep the job running; the next poll reconnects.
                continue

    def _watch(self) -> bool:
        """True once ``on_stuck`` was called (the watcher's work is done)."""
        if self.token is None or self.on_stuck is None or not self.token.cancelled:
            return False
        if self._fired_at is None:
            self._fired_at = time.monotonic()
        if time.monotonic() - self._fired_at < self.stuck_after:
            return False
        self.on_stuck()
        return True
