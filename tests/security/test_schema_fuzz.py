"""Bad input on every endpoint: a 4xx JSON error naming the field and no row written; and a bounded
schemathesis run against the project's own OpenAPI schema on a live service finds no 5xx."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from analytics_chat.models import ChatMessage
from tests.conftest import TEST_REDIS_URL

IMPORT = "/api/chat/threads/import"


@pytest.fixture
def api(db, django_user_model):
    user = django_user_model.objects.create_user("fuzzy", password="pw")
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


@pytest.fixture
def answered(api) -> ChatMessage:
    return ChatMessage.objects.create(owner=api.user, ask="how many?", scope="demo", status="succeeded")


def thread_document(**first) -> dict:
    message = {"uuid": str(uuid.uuid4()), "parent_uuid": None, "ask": "q", "status": "succeeded", **first}
    return {"format": "analytics-chat-thread", "version": 1, "messages": [message]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "liked"), ({"liked": "perhaps"}, "liked"), ({"liked": None}, "liked")],
)
def test_feedback_names_the_bad_field(api, answered, body, field):
    response = api.post(f"/api/chat/messages/{answered.uuid}/feedback", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    answered.refresh_from_db()
    assert answered.liked is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "format"),
        ({**thread_document(), "format": "csv"}, "format"),
        ({**thread_document(), "version": 7}, "version"),
        ({**thread_document(), "messages": []}, "messages"),
        ({**thread_document(), "messages": "many"}, "messages"),
        (thread_document(status="running"), "messages"),  # only finished turns can be imported
        (thread_document(parent_uuid=str(uuid.uuid4())), "messages"),
        (thread_document(ask=""), "messages"),
        (thread_document(ask="x" * 5000), "messages"),
        (thread_document(uuid="not-a-uuid"), "messages"),
        (thread_document(response_data=["not", "a", "dict"]), "messages"),
    ],
)
def test_import_names_the_bad_field_and_writes_nothing(api, document, field):
    response = api.post(IMPORT, document, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert ChatMessage.objects.count() == 0


@pytest.mark.django_db
def test_import_of_text_postgres_cannot_store_is_a_400(api):
    """JSON may carry \\u0000, which PostgreSQL text and jsonb refuse: a 400, not a database error."""
    for document in (
        thread_document(response="a\x00b"),
        thread_document(response_data={"sql": "SELECT 1\x00"}),
        thread_document(options={"stop": ["\x00"]}),
    ):
        response = api.post(IMPORT, document, format="json")
        assert response.status_code == 400, response.content
        assert "messages" in response.json()
    assert ChatMessage.objects.count() == 0


@pytest.mark.django_db
def test_abort_of_an_unknown_message_is_a_json_404(api):
    response = api.post(f"/api/chat/messages/{uuid.uuid4()}/abort")
    assert response.status_code == 404 and "detail" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/chat/generate", IMPORT, "feedback"])
def test_malformed_json_and_wrong_content_type_on_each_post(api, answered, path):
    if path == "feedback":
        path = f"/api/chat/messages/{answered.uuid}/feedback"
    broken = api.generic("POST", path, data='{"ask": ', content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]
    wrong = api.generic("POST", path, data="ask=hi", content_type="text/plain")
    assert wrong.status_code == 415 and "text/plain" in wrong.json()["detail"]
    not_an_object = api.generic("POST", path, data=json.dumps([1, 2]), content_type="application/json")
    assert not_an_object.status_code == 400, not_an_object.content
    assert ChatMessage.objects.count() == 1
    answered.refresh_from_db()
    assert answered.liked is None


# --- schemathesis against the live service -------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_service():
    from tests.security.test_faults import scripted_service

    with scripted_service(TEST_REDIS_URL, {"AC_GENERATE_RATE": "100000/min"}) as live:
        yield live


def seeded_config(service, folder: Path) -> Path:
    """Real message and thread uuids for the path parameters, so the fuzzer gets past 404s into the views."""
    with service.client() as c:
        answer = c.post("/api/chat/generate", json={"ask": "How many orders by channel?"}).json()
        thread = c.post("/api/chat/generate", json={"ask": "How many orders?"}).json()
    assert answer["status"] == thread["status"] == "succeeded", (answer, thread)
    config = folder / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.message_uuid" = "{answer["response_uuid"]}"\n'
        f'"path.root_uuid" = "{thread["response_uuid"]}"\n'
    )
    return config


@pytest.mark.live
def test_schemathesis_finds_no_server_error(fuzz_service, tmp_path):
    """Every operation of /api/schema/, examples and fuzzed input, bounded to about two minutes."""
    config = seeded_config(fuzz_service, tmp_path)
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    result = subprocess.run(
        [
            executable, "--config-file", str(config), "run", f"{fuzz_service.base_url}/api/schema/",
            "--header", f"Authorization: Token {fuzz_service.token}",
            "--checks", "not_a_server_error",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "12",
            "--seed", "1",
            "--workers", "1",
            "--max-time", "120",
            "--request-timeout", "30",
            "--no-shrink",
            "--exclude-path-regex", r"\.png$",  # the renderer is CPU-heavy and has its own tests
        ],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    print(output[-3000:])
    assert result.returncode == 0, output[-6000:]
    assert "Server error" not in output
    assert fuzz_service.processes["web"].poll() is None
