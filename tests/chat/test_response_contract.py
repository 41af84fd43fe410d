"""ChatResponseSerializer is the API boundary: its data is the ChatResponse of the documented contract
(shared/reference, the chat module: response, response_data with its five placeholders, is_new, timestamp,
response_uuid), field by field the same JSON the hand-built dict gave, for a message in every status."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from analytics_chat.api.serializers import ChatResponseSerializer
from analytics_chat.models import ChatMessage

Status = ChatMessage.Status

# The contract's ChatResponse and ChatResponseData (their TypeScript types as JSON types).
CONTRACT = {"response": str, "response_data": dict, "is_new": bool, "timestamp": float, "response_uuid": str}
PLACEHOLDERS = ("data", "sql", "chart_spec", "semantic_context", "catalog")
# What the service adds to it.
EXTENSIONS = (
    "parent_uuid", "status", "current_stage", "finish_reason", "usage", "elapsed_ms", "stage_timings",
    "error_info", "ask", "scope", "tags", "model", "liked", "created_at",
)  # fmt: skip


def hand_built(message: ChatMessage) -> dict[str, Any]:
    """The response as api/payloads.chat_response built it before the serializer did (kept to compare)."""
    empty = dict.fromkeys((*PLACEHOLDERS, "explanation"))
    stamp = message.finished_at or message.created_at
    return {
        "response": message.response,
        "response_data": {**empty, **{k: v for k, v in (message.response_data or {}).items() if k in empty}},
        "is_new": message.is_new,
        "timestamp": stamp.timestamp() if stamp else None,
        "response_uuid": str(message.uuid),
        "parent_uuid": str(message.parent_id) if message.parent_id else None,
        "status": message.status,
        "current_stage": message.current_stage,
        "finish_reason": message.finish_reason or None,
        "usage": message.usage or {"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0},
        "elapsed_ms": message.elapsed_ms,
        "stage_timings": message.stage_timings or {},
        "error_info": message.error_info,
        "ask": message.ask,
        "scope": message.scope,
        "tags": message.tags,
        "model": message.model,
        "liked": message.liked,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def _message(status: str, parent: ChatMessage | None = None) -> ChatMessage:
    owner = get_user_model().objects.get_or_create(username="contract")[0]
    message = ChatMessage.objects.create(
        owner=owner, parent=parent, ask="What is the revenue per region?", scope="demo", tags=["q3"],
        model="tiny", status=status, current_stage="" if status == Status.PENDING else "compose",
    )  # fmt: skip
    if status == Status.RUNNING:
        message.started_at = timezone.now()
        message.stage_timings = {"route": 3, "context": 12}
    if status in ChatMessage.TERMINAL_STATUSES:
        message.started_at = message.created_at + dt.timedelta(milliseconds=5)
        message.finished_at = message.created_at + dt.timedelta(milliseconds=1234)
        message.usage = {"prompt_tokens": 812, "cached_prompt_tokens": 640, "completion_tokens": 37}
        message.stage_timings = {"route": 3, "sql": 900, "execute": 20, "compose": 8}
    if status == Status.SUCCEEDED:
        message.response = "Revenue per region.\n\n{data}\n\n{chart_spec}"
        message.response_data = {
            "data": {"columns": ["region", "revenue"], "types": ["VARCHAR", "DECIMAL(18,2)"],
                     "rows": [["EMEA", 1200.5], ["APAC", 980.25]], "row_count": 2, "truncated": False},
            "sql": "SELECT region, sum(amount) AS revenue FROM orders GROUP BY region",
            "chart_spec": {"mark": "bar"},
            "explanation": {"steps": ["sum of amount per region"]},
            "not_a_placeholder": "left out",
        }  # fmt: skip
        message.finish_reason = "stop"
        message.liked = True
    if status == Status.FAILED:
        message.response = "I cannot answer that from this data."
        message.error_info = {"code": "cannot_answer", "message": "The data has nothing on 'salary'."}
        message.finish_reason = "stop"
        message.liked = False
    if status == Status.ABORTED:
        message.finish_reason = "aborted"
        message.error_info = {"code": "aborted", "message": "aborted by the client"}
    message.save()
    return message


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_the_serializer_gives_the_contract_and_the_same_json_as_before(db, status):
    parent = _message(Status.SUCCEEDED) if status == Status.SUCCEEDED else None
    message = _message(status, parent=parent)
    message.refresh_from_db()  # as the API reads it

    data = ChatResponseSerializer(message).data

    for name, kind in CONTRACT.items():
        assert isinstance(data[name], kind), (name, data[name])
    assert set(PLACEHOLDERS) <= set(data["response_data"])
    assert list(data) == [*CONTRACT, *EXTENSIONS] == list(hand_built(message)), "the fields, in order"
    uuid.UUID(data["response_uuid"])
    expected = hand_built(message)
    for name in expected:
        assert data[name] == expected[name], name
        assert type(data[name]) is type(expected[name]) or isinstance(expected[name], str), name
    assert JSONRenderer().render(data) == JSONRenderer().render(expected)
    assert json.loads(JSONRenderer().render(data)) == json.loads(json.dumps(expected, default=str))


def test_placeholders_the_answer_lacks_are_null_and_others_are_left_out(db):
    message = _message(Status.SUCCEEDED)
    data = ChatResponseSerializer(message).data
    assert data["response_data"]["semantic_context"] is None and data["response_data"]["catalog"] is None
    assert "not_a_placeholder" not in data["response_data"]
    pending = ChatResponseSerializer(_message(Status.PENDING)).data
    assert pending["finish_reason"] is None and pending["elapsed_ms"] is None
    assert pending["usage"] == {"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0}
    assert pending["created_at"].endswith("+00:00")  # isoformat, as the API always spelt it


def test_the_api_answers_with_the_serializer(api):
    message = _message(Status.SUCCEEDED)
    message.owner = api.user
    message.save()
    reply = api.get(f"/api/chat/messages/{message.uuid}")
    assert reply.status_code == 200, reply.content
    assert reply.json() == json.loads(JSONRenderer().render(ChatResponseSerializer(message).data))
    thread = api.get(f"/api/chat/messages/{message.uuid}/thread")
    assert thread.status_code == 200, thread.content
    assert thread.json()["messages"][-1] == reply.json()
