"""Bad input: a 4xx JSON error naming the field, and no message row written."""

import json
import uuid

import pytest

from analytics_chat.models import ChatMessage, UserScope

pytestmark = pytest.mark.django_db
GENERATE = "/api/chat/generate"


def post(api, body, **kwargs):
    return api.post(GENERATE, body, format="json", **kwargs)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ask"),
        ({"ask": ""}, "ask"),
        ({"ask": "   "}, "ask"),
        ({"ask": "x" * 2001}, "ask"),
        ({"ask": 42, "tags": "not-a-list"}, "tags"),
        ({"ask": "hi", "temperature": -0.1}, "temperature"),
        ({"ask": "hi", "temperature": "hot"}, "temperature"),
        ({"ask": "hi", "top_p": 1.5}, "top_p"),
        ({"ask": "hi", "top_k": -1}, "top_k"),
        ({"ask": "hi", "min_p": 2}, "min_p"),
        ({"ask": "hi", "repeat_penalty": 9}, "repeat_penalty"),
        ({"ask": "hi", "frequency_penalty": 3}, "frequency_penalty"),
        ({"ask": "hi", "presence_penalty": -3}, "presence_penalty"),
        ({"ask": "hi", "seed": -5}, "seed"),
        ({"ask": "hi", "max_tokens": 0}, "max_tokens"),
        ({"ask": "hi", "max_tokens": 2048}, "max_tokens"),  # the model's whole context
        ({"ask": "hi", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"ask": "hi", "parent_uuid": "not-a-uuid"}, "parent_uuid"),
        ({"ask": "hi", "model": "gpt-17"}, "model"),
        ({"ask": "hi", "scope": "nowhere"}, "scope"),
        ({"ask": "hi", "scope": "demo.nope"}, "scope"),
        ({"ask": "hi", "scope": "demo.orders,secret.salaries"}, "scope"),
        ({"ask": "hi", "streaming": "maybe"}, "streaming"),
        ({"ask": "hi", "temprature": 0.5}, "temprature"),
        ({"ask": "hi", "max_seconds": 0}, "max_seconds"),
        ({"ask": "hi", "max_seconds": -2}, "max_seconds"),
        ({"ask": "hi", "max_seconds": 30.5}, "max_seconds"),  # above AC_MAX_SECONDS (30)
        ({"ask": "hi", "max_seconds": "soon"}, "max_seconds"),
    ],
)
def test_bad_field_is_named_and_nothing_is_written(api, body, field):
    response = post(api, body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert ChatMessage.objects.count() == 0


def test_unknown_parent_is_404_and_nothing_is_written(api):
    response = post(api, {"ask": "and by month?", "parent_uuid": str(uuid.uuid4())})
    assert response.status_code == 404
    assert "parent_uuid" in response.json()
    assert ChatMessage.objects.count() == 0


def test_someone_elses_parent_is_404(api, django_user_model):
    other = django_user_model.objects.create_user("mallory", password="pw")
    theirs = ChatMessage.objects.create(owner=other, ask="their question", scope="demo")
    response = post(api, {"ask": "follow up", "parent_uuid": str(theirs.uuid)})
    assert response.status_code == 404
    assert ChatMessage.objects.count() == 1


def test_scope_outside_the_users_grant_is_400(api):
    UserScope.objects.create(user=api.user, allowed=["demo.orders"])
    response = post(api, {"ask": "hi", "scope": "demo.customers"})
    assert response.status_code == 400 and "scope" in response.json()
    response = post(api, {"ask": "hi", "scope": "secret"})
    assert response.status_code == 400 and "scope" in response.json()
    assert ChatMessage.objects.count() == 0


def test_malformed_json_and_wrong_content_type(api):
    response = api.generic("POST", GENERATE, data="{not json", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()
    response = api.generic("POST", GENERATE, data="ask=hi", content_type="text/plain")
    assert response.status_code == 415 and "detail" in response.json()
    response = api.generic("POST", GENERATE, data=json.dumps(["ask"]), content_type="application/json")
    assert response.status_code == 400
    assert ChatMessage.objects.count() == 0


def test_unauthenticated_is_refused(db):
    from rest_framework.test import APIClient

    response = APIClient().post(GENERATE, {"ask": "hi"}, format="json")
    assert response.status_code in (401, 403)
    assert ChatMessage.objects.count() == 0


def test_other_users_messages_are_404_everywhere(api, django_user_model):
    other = django_user_model.objects.create_user("mallory", password="pw")
    theirs = ChatMessage.objects.create(owner=other, ask="their question", scope="demo", status="succeeded")
    for method, path in [
        ("get", f"/api/chat/messages/{theirs.uuid}"),
        ("get", f"/api/chat/messages/{theirs.uuid}/thread"),
        ("post", f"/api/chat/messages/{theirs.uuid}/abort"),
        ("post", f"/api/chat/messages/{theirs.uuid}/feedback"),
        ("get", f"/api/chat/messages/{theirs.uuid}/data.csv"),
        ("get", f"/api/chat/threads/{theirs.uuid}/export"),
        ("delete", f"/api/chat/threads/{theirs.uuid}"),
    ]:
        response = getattr(api, method)(
            path, {"liked": True} if path.endswith("feedback") else None, format="json"
        )
        assert response.status_code == 404, (method, path, response.status_code)
    theirs.refresh_from_db()
    assert theirs.liked is None and theirs.status == "succeeded"
    assert ChatMessage.objects.filter(uuid=theirs.uuid).exists()
