"""Access control: own threads only, staff-only admin, and a user's scope limits both the data and what
the model is shown. Real PostgreSQL, the real demo DuckDB file and the real pipeline stages."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from analytics_chat.access import resolve_scope
from analytics_chat.llm.base import CancelToken
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.models import ChatMessage, LLMModel, UserScope
from analytics_chat.pipeline.runner import run_stages
from analytics_chat.pipeline.stages import STAGES
from analytics_chat.pipeline.state import AnswerState, StageContext, StageError
from catalog.models import DataSource

pytestmark = pytest.mark.django_db
HIDDEN = "customers|products|sales_reps|order_items"
# Columns only the hidden tables have: any of them in a prompt means their schema leaked.
HIDDEN_COLUMNS = (
    "email|segment|signup_date|subcategory|unit_cost|list_price|hire_date|region|line_no|unit_price|discount"
)
# A hidden table as schema (DDL, a join key, a quoted name) or one of its columns. Prose is not checked:
# "active customers" is a metric's label, and admin-written descriptions may mention other tables.
HIDDEN_PATTERN = re.compile(
    rf"\b(TABLE|FROM|JOIN|REFERENCES)\s+\"?({HIDDEN})\b|\"({HIDDEN})\"|'({HIDDEN})'|\b({HIDDEN_COLUMNS})\b",
    re.IGNORECASE,
)


@pytest.fixture
def demo(demo_source) -> DataSource:  # the shared demo fixture (tests/conftest.py)
    return demo_source


@pytest.fixture
def user_client(demo, django_user_model):
    def make(name: str, **flags) -> APIClient:
        user = django_user_model.objects.create_user(name, password="pw", **flags)
        client = APIClient()
        client.force_authenticate(user)
        client.user = user
        return client

    return make


class RecordingModel(ScriptedGenerator):
    """The scripted stand-in, keeping every message list it was shown."""

    def __init__(self, script: dict) -> None:
        self._setup("recording", script)
        self.seen: list[list[dict[str, str]]] = []

    def complete(self, messages, **kwargs):
        self.seen.append([dict(m) for m in messages])
        return super().complete(messages, **kwargs)


def run_pipeline(user, ask: str, model: RecordingModel) -> tuple[AnswerState, Exception | None]:
    scope = resolve_scope(user, None)
    state = AnswerState(message_uuid=str(uuid.uuid4()), ask=ask, scope=scope, model_name=model.name)
    try:
        run_stages(state, StageContext(generator=model, cancel=CancelToken()), STAGES)
    except StageError as exc:
        return state, exc
    return state, None


# --- the model never sees tables outside the user's scope ---------------------------------------------


@pytest.mark.parametrize(
    "ask",
    [
        "How many customers do we have per country?",
        "Which products sell best, and which sales reps sold them?",
        "Total revenue from order items by month",
        "How many orders per channel?",
    ],
)
def test_model_is_never_shown_tables_outside_the_scope(demo, django_user_model, ask):
    user = django_user_model.objects.create_user("narrow")
    UserScope.objects.create(user=user, allowed=["demo.orders"])
    model = RecordingModel({"default": "SELECT COUNT(*) AS n FROM orders", "token_delay_ms": 0})
    state, error = run_pipeline(user, ask, model)

    assert state.scope.tables == ["orders"]
    assert model.seen, "the pipeline never asked the model"
    for messages in model.seen:
        for message in messages:
            assert not HIDDEN_PATTERN.search(message["content"]), message["content"]
    # what the API returns as context must not name them either
    assert not HIDDEN_PATTERN.search(str(state.semantic_context)), state.semantic_context
    assert not HIDDEN_PATTERN.search(str(state.catalog)), state.catalog
    assert error is None or error.code != "internal_error"


def test_the_unscoped_user_is_shown_every_table(demo, django_user_model):
    """The same check with no grant finds the tables, so the test above can fail."""
    user = django_user_model.objects.create_user("wide")
    model = RecordingModel({"default": "SELECT COUNT(*) AS n FROM customers", "token_delay_ms": 0})
    state, error = run_pipeline(user, "How many customers do we have?", model)
    assert error is None, error
    shown = " ".join(m["content"] for messages in model.seen for m in messages)
    assert HIDDEN_PATTERN.search(shown)
    assert state.data["rows"][0][0] > 0


def test_sql_on_a_hidden_table_is_refused_and_returns_no_rows(demo, django_user_model):
    user = django_user_model.objects.create_user("narrow2")
    UserScope.objects.create(user=user, allowed=["demo.orders"])
    model = RecordingModel({"default": "SELECT email FROM customers", "token_delay_ms": 0})
    state, error = run_pipeline(user, "List the email of every customer", model)
    assert error is not None and error.code in {"refused_sql", "invalid_sql", "cannot_answer"}, error
    assert state.data is None


# --- the API honours the scope ---------------------------------------------------------------------------


def test_sources_list_only_the_granted_tables(user_client):
    client = user_client("scoped")
    UserScope.objects.create(user=client.user, allowed=["demo.orders", "demo.products"])
    sources = client.get("/api/sources").json()
    assert [s["name"] for s in sources] == ["demo"]
    assert sorted(t["name"] for t in sources[0]["tables"]) == ["orders", "products"]


def test_imported_sql_cannot_read_outside_the_scope(user_client):
    """A thread document carries SQL; re-running it for CSV must pass the guard with today's scope."""
    client = user_client("importer")
    UserScope.objects.create(user=client.user, allowed=["demo.orders"])
    document = {
        "format": "analytics-chat-thread",
        "version": 1,
        "messages": [
            {
                "uuid": str(uuid.uuid4()),
                "parent_uuid": None,
                "ask": "emails please",
                "scope": "demo",
                "status": "succeeded",
                "response_data": {"sql": "SELECT email FROM customers"},
            }
        ],
    }
    imported = client.post("/api/chat/threads/import", document, format="json")
    assert imported.status_code == 201, imported.content
    response = client.get(f"/api/chat/messages/{imported.json()['root_uuid']}/data.csv")
    assert response.status_code == 403, response.content
    assert "@" not in response.content.decode()
    assert response.json()["code"] == "table_not_allowed"

    own = ChatMessage.objects.get(uuid=imported.json()["root_uuid"])
    own.response_data = {"sql": "SELECT channel, COUNT(*) AS n FROM orders GROUP BY channel"}
    own.save(update_fields=["response_data"])
    response = client.get(f"/api/chat/messages/{own.uuid}/data.csv")
    assert response.status_code == 200 and response.content.decode().startswith("channel,n")


# --- threads belong to their owner -----------------------------------------------------------------------


def test_thread_lists_and_deletes_are_per_user(user_client):
    alice, bob = user_client("alice"), user_client("bob")
    theirs = ChatMessage.objects.create(owner=bob.user, ask="bob asks", scope="demo", status="succeeded")
    mine = ChatMessage.objects.create(owner=alice.user, ask="alice asks", scope="demo", status="succeeded")

    listed = alice.get("/api/chat/threads").json()
    assert [t["root_uuid"] for t in listed["results"]] == [str(mine.uuid)]
    for path in (f"/api/chat/messages/{theirs.uuid}/chart.svg", f"/api/chat/threads/{theirs.uuid}/export"):
        assert alice.get(path).status_code == 404, path
    assert alice.delete(f"/api/chat/threads/{theirs.uuid}").status_code == 404
    assert ChatMessage.objects.filter(uuid=theirs.uuid).exists()
    assert bob.delete(f"/api/chat/threads/{theirs.uuid}").status_code == 204
    assert not ChatMessage.objects.filter(uuid=theirs.uuid).exists()


# --- catalog, semantic layer and model registry: staff only ---------------------------------------------

ADMIN_PAGES = [
    "/admin/catalog/datasource/",
    "/admin/catalog/datasource/add/",
    "/admin/semantic/metric/",
    "/admin/semantic/dimension/add/",
    "/admin/analytics_chat/llmmodel/",
    "/admin/analytics_chat/llmmodel/add/",
    "/admin/analytics_chat/userscope/add/",
]


def test_admin_is_closed_to_non_staff(client, django_user_model, demo):
    django_user_model.objects.create_user("plain", password="pw")
    client.login(username="plain", password="pw")
    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page
    before = LLMModel.objects.count()
    response = client.post("/admin/analytics_chat/llmmodel/add/", {"name": "evil", "path": "/etc/passwd"})
    assert response.status_code == 302 and LLMModel.objects.count() == before


def test_staff_need_permissions_and_superusers_may_edit(client, django_user_model, demo):
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.login(username="staff", password="pw")
    assert client.get("/admin/analytics_chat/llmmodel/add/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="add_llmmodel"))
    assert client.get("/admin/analytics_chat/llmmodel/add/").status_code == 200

    django_user_model.objects.create_superuser("root", password="pw")
    client.login(username="root", password="pw")
    for page in ADMIN_PAGES:
        assert client.get(page).status_code == 200, page


def test_the_api_offers_no_writes_to_catalog_or_models(user_client):
    client = user_client("writer")
    for path in ("/api/sources", "/api/models"):
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(path, {"name": "x"}, format="json")
            assert response.status_code == 405, (method, path)


# --- throttling on generate ------------------------------------------------------------------------------


@pytest.fixture
def low_generate_rate(monkeypatch, settings):
    """'generate' at 2 per minute; call it with a user to reset that user's counter. DRF reads the rates once
    at import, so the class attribute is patched too."""
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "generate": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    used: list[str] = []

    def forget(user) -> None:
        # only this user's counter: the cache's Redis db also holds the live services' queues
        key = ScopedRateThrottle.cache_format % {"scope": "generate", "ident": user.pk}
        used.append(key)
        cache.delete(key)

    yield forget
    cache.delete_many(used)


def test_generate_is_throttled_per_user_with_retry_after(user_client, low_generate_rate):
    alice, bob = user_client("fast-alice"), user_client("fast-bob")
    low_generate_rate(alice.user)
    low_generate_rate(bob.user)
    # invalid bodies: they count against the rate (throttling runs first) and enqueue nothing
    for _ in range(2):
        assert alice.post("/api/chat/generate", {}, format="json").status_code == 400
    response = alice.post("/api/chat/generate", {"ask": "one more"}, format="json")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert "throttled" in response.json()["detail"].lower()
    assert 0 < int(response["Retry-After"]) <= 60
    assert ChatMessage.objects.count() == 0
    # the limit is per user, and other endpoints are not throttled
    assert bob.post("/api/chat/generate", {}, format="json").status_code == 400
    assert alice.get("/api/chat/threads").status_code == 200
