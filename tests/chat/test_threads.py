"""Threads: listing, walking, export → import (save and load), deletion, feedback."""

import pytest

from analytics_chat.models import ChatMessage

pytestmark = pytest.mark.django_db


def answered(user, ask, parent=None, **fields):
    return ChatMessage.objects.create(
        owner=user, ask=ask, parent=parent, scope="demo", status="succeeded",
        response="There were {data}", response_data={"sql": "SELECT 1 AS one", "data": {"columns": ["one"], "rows": [[1]]}},
        **fields,
    )  # fmt: skip


def test_threads_newest_first_with_counts(api, django_user_model):
    first = answered(api.user, "first thread")
    second = answered(api.user, "second thread")
    reply = answered(api.user, "follow up on first", parent=first)
    answered(django_user_model.objects.create_user("other"), "not mine")
    answered(api.user, "not saved", saved=False)

    body = api.get("/api/chat/threads").json()
    assert body["count"] == 2
    assert [t["root_uuid"] for t in body["results"]] == [str(first.uuid), str(second.uuid)]
    assert body["results"][0]["message_count"] == 2
    assert body["results"][0]["last_uuid"] == str(reply.uuid)


def test_thread_walk_root_to_message(api):
    root = answered(api.user, "q1")
    middle = answered(api.user, "q2", parent=root)
    leaf = answered(api.user, "q3", parent=middle)
    answered(api.user, "sibling", parent=root)
    messages = api.get(f"/api/chat/messages/{leaf.uuid}/thread").json()["messages"]
    assert [m["ask"] for m in messages] == ["q1", "q2", "q3"]
    assert messages[2]["parent_uuid"] == str(middle.uuid)


def test_export_then_import_recreates_the_tree_for_the_caller(api):
    root = answered(api.user, "q1", liked=True)
    child = answered(api.user, "q2", parent=root, is_new=False)
    answered(api.user, "q3", parent=child)
    document = api.get(f"/api/chat/threads/{root.uuid}/export").json()
    assert document["format"] == "analytics-chat-thread" and len(document["messages"]) == 3

    imported = api.post("/api/chat/threads/import", document, format="json")
    assert imported.status_code == 201, imported.content
    new_root = imported.json()["root_uuid"]
    assert new_root != str(root.uuid)
    copies = list(ChatMessage.objects.filter(root_uuid=new_root).order_by("depth"))
    assert [m.ask for m in copies] == ["q1", "q2", "q3"]
    assert [m.depth for m in copies] == [0, 1, 2]
    assert copies[0].liked is True and copies[1].is_new is False
    assert copies[2].response_data["sql"] == "SELECT 1 AS one"
    assert all(m.owner == api.user for m in copies)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.update(format="something-else"),
        lambda d: d["messages"].clear(),
        lambda d: d["messages"][1].update(parent_uuid="7d3c6f0e-0000-4000-8000-000000000000"),
        lambda d: d["messages"][0].update(status="running"),
        lambda d: d["messages"][1].update(parent_uuid=None),
    ],
)
def test_import_refuses_a_broken_document_and_writes_nothing(api, breakage):
    root = answered(api.user, "q1")
    answered(api.user, "q2", parent=root)
    document = api.get(f"/api/chat/threads/{root.uuid}/export").json()
    breakage(document)
    before = ChatMessage.objects.count()
    response = api.post("/api/chat/threads/import", document, format="json")
    assert response.status_code == 400
    assert ChatMessage.objects.count() == before


def test_delete_thread_removes_every_message(api):
    root = answered(api.user, "q1")
    answered(api.user, "q2", parent=answered(api.user, "q1b", parent=root))
    keep = answered(api.user, "other thread")
    assert api.delete(f"/api/chat/threads/{root.uuid}").status_code == 204
    assert list(ChatMessage.objects.values_list("uuid", flat=True)) == [keep.uuid]
    assert api.delete(f"/api/chat/threads/{root.uuid}").status_code == 404


def test_feedback_records_liked(api):
    message = answered(api.user, "q1")
    assert (
        api.post(f"/api/chat/messages/{message.uuid}/feedback", {"liked": True}, format="json").json()[
            "liked"
        ]
        is True
    )
    assert api.post(f"/api/chat/messages/{message.uuid}/feedback", {}, format="json").status_code == 400
    message.refresh_from_db()
    assert message.liked is True
