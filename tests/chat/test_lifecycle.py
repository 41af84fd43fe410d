"""Status transitions: conditional writes, abort from anywhere, and the sweep of dead workers' messages."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics_chat import channels, lifecycle
from analytics_chat.models import ChatMessage

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status


@pytest.fixture
def user():
    return get_user_model().objects.create_user("bob", password="x")


def new_message(user, **fields) -> ChatMessage:
    return ChatMessage.objects.create(owner=user, ask="how many orders?", scope="demo", **fields)


def test_thread_of_any_depth_walks_root_to_leaf(user):
    node = new_message(user)
    chain = [node]
    for depth in range(1, 12):
        node = new_message(user, parent=node)
        assert node.depth == depth and node.root_uuid == chain[0].uuid
        chain.append(node)
    # a sibling branch must not show up in the walk
    new_message(user, parent=chain[5])
    assert [m.uuid for m in chain[-1].ancestors()] == [m.uuid for m in chain]


def test_claim_only_once(user):
    message = new_message(user)
    assert lifecycle.claim(str(message.uuid), "w1")
    assert not lifecycle.claim(str(message.uuid), "w2")
    message.refresh_from_db()
    assert message.status == Status.RUNNING and message.worker == "w1" and message.started_at


def test_late_write_never_overwrites_aborted(user):
    message = new_message(user)
    lifecycle.claim(str(message.uuid), "w1")
    assert lifecycle.request_abort(str(message.uuid)) == Status.ABORTED
    # the stage finishing after the abort must not turn it into a success
    assert not lifecycle.finish(str(message.uuid), Status.SUCCEEDED, {"response": "late"})
    lifecycle.record_stage(str(message.uuid), "compose", {"route": 1.0})
    # but the worker's own abort write keeps what was produced so far
    assert lifecycle.finish(str(message.uuid), Status.ABORTED, {"response": "partial answer"})
    message.refresh_from_db()
    assert message.status == Status.ABORTED
    assert message.response == "partial answer"
    assert message.current_stage == ""
    assert message.finished_at is not None
    assert channels.is_cancel_requested(str(message.uuid))


def test_abort_of_a_queued_message_drops_it(user):
    message = new_message(user)
    assert lifecycle.request_abort(str(message.uuid)) == Status.ABORTED
    assert not lifecycle.claim(str(message.uuid), "w1")


def test_abort_of_a_finished_message_changes_nothing(user):
    message = new_message(user, status=Status.SUCCEEDED, response="done")
    assert lifecycle.request_abort(str(message.uuid)) == Status.SUCCEEDED


def test_sweep_fails_running_messages_without_heartbeat(user, settings):
    stale = new_message(user)
    lifecycle.claim(str(stale.uuid), "w1")
    alive = new_message(user)
    lifecycle.claim(str(alive.uuid), "w2")
    long_ago = timezone.now() - timedelta(seconds=settings.CHAT["STALE_AFTER_SECONDS"] + 5)
    ChatMessage.objects.filter(uuid__in=[stale.uuid, alive.uuid]).update(started_at=long_ago)
    channels.beat(str(alive.uuid))
    channels.clear_heartbeat(str(stale.uuid))

    assert lifecycle.sweep_stale_messages() == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == Status.FAILED and stale.error_info["code"] == "worker_lost"
    assert alive.status == Status.RUNNING


def test_sweep_fails_messages_nobody_picked_up(user, settings):
    queued = new_message(user)
    ChatMessage.objects.filter(uuid=queued.uuid).update(
        created_at=timezone.now() - timedelta(seconds=settings.CHAT["QUEUED_TIMEOUT_SECONDS"] + 1)
    )
    fresh = new_message(user)
    assert lifecycle.sweep_stale_messages() == 1
    queued.refresh_from_db()
    fresh.refresh_from_db()
    assert queued.status == Status.FAILED and queued.error_info["code"] == "not_picked_up"
    assert fresh.status == Status.PENDING
