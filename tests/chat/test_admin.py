"""Django admin lists chat messages and shows a message's thread."""

import pytest

from analytics_chat.models import ChatMessage, LLMModel

pytestmark = pytest.mark.django_db


def test_admin_lists_messages_and_shows_the_thread(admin_client, admin_user):
    root = ChatMessage.objects.create(owner=admin_user, ask="Revenue in 2024?", status="succeeded")
    child = ChatMessage.objects.create(owner=admin_user, ask="By channel?", parent=root, status="succeeded")
    leaf = ChatMessage.objects.create(owner=admin_user, ask="Only Japan?", parent=child, status="failed",
                                      error_info={"code": "query_failed", "message": "boom"})  # fmt: skip

    listing = admin_client.get("/admin/analytics_chat/chatmessage/?status__exact=failed")
    assert listing.status_code == 200
    assert b"Only Japan?" in listing.content and b"Revenue in 2024?" not in listing.content

    page = admin_client.get(f"/admin/analytics_chat/chatmessage/{leaf.uuid}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    thread = body[body.index("<ol style='list-style:none") :]
    thread = thread[: thread.index("</ol>")]
    # the thread, root first
    assert thread.index("Revenue in 2024?") < thread.index("By channel?") < thread.index("Only Japan?")
    assert "query_failed" in body


def test_admin_model_registry_saves(admin_client):
    response = admin_client.post(
        "/admin/analytics_chat/llmmodel/add/",
        {"name": "tiny", "backend": "scripted", "path": "/tmp/script.json", "chat_format": "chatml",
         "context_size": 2048, "batch_size": 256, "default_options": "{}", "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    assert LLMModel.objects.get(name="tiny").context_size == 2048
    assert admin_client.get("/admin/analytics_chat/llmmodel/").status_code == 200


def test_non_staff_cannot_open_the_admin(client, django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    response = client.get("/admin/analytics_chat/chatmessage/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
