"""Status transitions of a chat message. Every write is conditional on the current status, so a late write
from a stage or a worker never overwrites a terminal state (above all: never overwrites ``aborted``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from . import channels
from .errors import ErrorCode, error_info
from .models import ChatMessage

log = logging.getLogger(__name__)
Status = ChatMessage.Status
WORKER_LOST = "The worker answering this message stopped. Please ask again."
ABORTED = "The answer was aborted."


def claim(message_uuid: str, worker: str) -> bool:
    """pending → running; False when the message is no longer pending (aborted, failed by the sweep)."""
    return bool(
        ChatMessage.objects.filter(uuid=message_uuid, status=Status.PENDING).update(
            status=Status.RUNNING, started_at=timezone.now(), worker=worker
        )
    )


def record_stage(message_uuid: str, stage: str, timings: dict[str, float]) -> None:
    ChatMessage.objects.filter(uuid=message_uuid, status=Status.RUNNING).update(
        current_stage=stage, stage_timings=timings
    )


def finish(message_uuid: str, status: str, fields: dict[str, Any]) -> bool:
    """Write the outcome. Aborted runs still save what they produced, even after the API marked them."""
    allowed_from = [Status.RUNNING, Status.ABORTED] if status == Status.ABORTED else [Status.RUNNING]
    values = {**fields, "status": status}
    if status != Status.ABORTED:
        values["finished_at"] = timezone.now()
    updated = ChatMessage.objects.filter(uuid=message_uuid, status__in=allowed_from).update(**values)
    if updated and status == Status.ABORTED:
        ChatMessage.objects.filter(uuid=message_uuid, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
    return bool(updated)


def fail(
    message_uuid: str,
    code: ErrorCode,
    message: str,
    *,
    stage: str = "",
    from_statuses=ChatMessage.ACTIVE_STATUSES,
) -> bool:
    updated = ChatMessage.objects.filter(uuid=message_uuid, status__in=from_statuses).update(
        status=Status.FAILED,
        error_info=error_info(code, message, stage=stage),
        finish_reason="error",
        finished_at=timezone.now(),
    )
    if updated:
        publish_terminal(message_uuid)
    return bool(updated)


def request_abort(message_uuid: str) -> str:
    """Abort from anywhere (endpoint, dropped connection). Returns the message's status afterwards.

    The cancel flag stops a running worker within a fraction of a second; the status changes at once,
    so a queued job is dropped when a worker reaches it and a client polling sees ``aborted`` right away.
    """
    try:
        channels.request_cancel(message_uuid)
    except redis.RedisError:
        log.warning(
            "could not set the cancel flag of %s; marking it aborted in the database only", message_uuid
        )
    updated = ChatMessage.objects.filter(uuid=message_uuid, status__in=ChatMessage.ACTIVE_STATUSES).update(
        status=Status.ABORTED,
        finish_reason="aborted",
        finished_at=timezone.now(),
        error_info=error_info(ErrorCode.ABORTED, ABORTED),
    )
    if updated:
        publish_terminal(message_uuid)
    return ChatMessage.objects.filter(uuid=message_uuid).values_list("status", flat=True).first() or ""


def publish_terminal(message_uuid: str) -> None:
    """Send the last event of a stream: ``done`` for success, ``error`` otherwise, with the full response."""
    from .api.serializers import ChatResponseSerializer

    message = ChatMessage.objects.get(uuid=message_uuid)
    event = "done" if message.status == Status.SUCCEEDED else "error"
    try:
        channels.publish(message_uuid, event, ChatResponseSerializer(message).data)
    except redis.RedisError:
        log.warning("could not publish the final event of %s", message_uuid)


def sweep_stale_messages() -> int:
    """Fail messages whose worker died (no heartbeat) or that no worker picked up in time."""
    now = timezone.now()
    swept = 0
    stale_after = timedelta(seconds=settings.CHAT["STALE_AFTER_SECONDS"])
    for message_uuid in ChatMessage.objects.filter(
        status=Status.RUNNING, started_at__lt=now - stale_after
    ).values_list("uuid", flat=True):
        if not channels.has_heartbeat(str(message_uuid)):
            swept += fail(
                str(message_uuid),
                ErrorCode.WORKER_LOST,
                WORKER_LOST,
                from_statuses=[Status.RUNNING],
            )
    queued_timeout = timedelta(seconds=settings.CHAT["QUEUED_TIMEOUT_SECONDS"])
    for message_uuid in ChatMessage.objects.filter(
        status=Status.PENDING, created_at__lt=now - queued_timeout
    ).values_list("uuid", flat=True):
        swept += fail(
            str(message_uuid),
            ErrorCode.NOT_PICKED_UP,
            "No worker picked this message up in time. Is a worker running?",
            from_statuses=[Status.PENDING],
        )
    if swept:
        log.warning("swept %d stale chat messages", swept)
    return swept


def check_stale(message: ChatMessage) -> bool:
    """The sweep for one message, used by readers that are waiting on it. True if it was failed now."""
    if message.status != Status.RUNNING or message.started_at is None:
        return False
    if timezone.now() - message.started_at < timedelta(seconds=settings.CHAT["STALE_AFTER_SECONDS"]):
        return False
    try:
        alive = channels.has_heartbeat(str(message.uuid))
    except redis.RedisError:
        return False  # cannot tell while Redis is down; do not fail a live job
    if alive:
        return False
    return fail(
        str(message.uuid),
        ErrorCode.WORKER_LOST,
        WORKER_LOST,
        from_statuses=[Status.RUNNING],
    )
