"""The start page's endpoints (a source's tables, metrics and dimensions; suggested questions) and running
an answer's edited SQL again: scoped like every other endpoint, guarded like generated SQL."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from analytics_chat.models import ChatMessage, UserScope
from catalog.execution import run_query
from catalog.guard import check_sql

pytestmark = pytest.mark.django_db


def client_for(username: str, allowed: list[str] | None = None) -> APIClient:
    user = get_user_model().objects.create_user(username, password="pw")
    if allowed is not None:
        UserScope.objects.create(user=user, allowed=allowed)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def test_source_detail_lists_tables_metrics_and_dimensions(demo_source):
    body = client_for("ann").get("/api/sources/demo").json()
    assert {t["name"]: t["row_count"] for t in body["tables"]}["orders"] == 36000
    assert all(t["description"] for t in body["tables"])
    revenue = next(m for m in body["metrics"] if m["name"] == "revenue")
    assert revenue == {
        "name": "revenue",
        "label": "Revenue",
        "description": "Net sales of completed orders after line discounts.",
        "format": "currency",
    }
    assert {"name": "order_date", "kind": "time"}.items() <= next(
        d for d in body["dimensions"] if d["name"] == "order_date"
    ).items()


def test_suggestions_are_checked_questions_of_every_kind(demo_source):
    body = client_for("ann").get("/api/sources/demo/suggestions").json()
    suggestions = body["suggestions"]
    assert body["source"] == "demo"
    assert 6 <= len(suggestions) <= 8
    assert {s["kind"] for s in suggestions} == {"breakdown", "trend", "top", "filter"}
    assert len({s["question"] for s in suggestions}) == len(suggestions)
    for suggestion in suggestions:
        assert suggestion["semantic_query"]["metrics"], suggestion
        assert run_query(demo_source, suggestion["sql"]).row_count == suggestion["row_count"] > 0


def test_a_scope_limits_the_start_page_and_the_suggestions(demo_source):
    scoped = client_for("bob", ["demo.orders"])
    detail = scoped.get("/api/sources/demo").json()
    assert [t["name"] for t in detail["tables"]] == ["orders"]
    # Revenue reads order_items: outside this scope it does not exist, not even by name.
    assert "revenue" not in {m["name"] for m in detail["metrics"]}
    suggestions = scoped.get("/api/sources/demo/suggestions").json()["suggestions"]
    assert suggestions
    for suggestion in suggestions:
        assert check_sql(suggestion["sql"], allowed_tables=None).tables <= {"orders"}
    assert scoped.get("/api/sources/demo/suggestions?tables=customers").status_code == 400
    nobody = client_for("eve", [])
    assert nobody.get("/api/sources/demo").status_code == 404
    assert nobody.get("/api/sources/demo/suggestions").status_code == 404
    assert client_for("ann").get("/api/sources/nope/suggestions").status_code == 404


def test_narrowing_to_tables_with_the_query_parameter(demo_source):
    body = client_for("ann").get("/api/sources/demo/suggestions?tables=orders,customers").json()
    assert body["suggestions"]
    tables = {name for s in body["suggestions"] for name in check_sql(s["sql"], allowed_tables=None).tables}
    assert tables <= {"orders", "customers"}


@pytest.fixture
def answered(demo_source):
    client = client_for("ann")
    message = ChatMessage.objects.create(
        owner=client.user, ask="Orders by channel", scope="demo", status="succeeded",
        response_data={"sql": "SELECT channel, COUNT(*) AS orders FROM orders GROUP BY channel"},
    )  # fmt: skip
    return client, message


def test_an_edited_query_runs_as_a_new_answer_with_its_explanation(answered):
    client, message = answered
    edited = "SELECT channel, COUNT(*) AS orders FROM orders WHERE status = 'completed' GROUP BY channel"
    response = client.post(f"/api/chat/messages/{message.uuid}/rerun", {"sql": edited}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["parent_uuid"] == str(message.uuid)
    assert body["status"] == "succeeded"
    assert sorted(row[0] for row in body["response_data"]["data"]["rows"]) == ["mobile", "store", "web"]
    explanation = body["response_data"]["explanation"]
    assert explanation["filters"] == ["status is completed"]
    assert explanation["tables"] == ["orders"]
    assert "{data}" in body["response"] and "{sql}" in body["response"]
    # It is a message like any other: the CSV of its whole result downloads.
    csv = client.get(f"/api/chat/messages/{body['response_uuid']}/data.csv")
    assert csv.status_code == 200 and csv.content.decode().startswith("channel,orders")


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("DROP TABLE orders", "not_a_query"),
        ("SELECT * FROM read_csv('/etc/passwd')", "function_not_allowed"),
        ("SELECT 1; SELECT 2", "multiple_statements"),
        ("ATTACH '/tmp/x.duckdb' AS x", "not_a_query"),
        ("SELECT getenv('HOME')", "function_not_allowed"),
        ("SELECT * FROM '/etc/passwd'", "file_path"),
    ],
)
def test_hostile_edits_are_refused_and_write_nothing(answered, sql, code):
    client, message = answered
    before = ChatMessage.objects.count()
    response = client.post(f"/api/chat/messages/{message.uuid}/rerun", {"sql": sql}, format="json")
    assert response.status_code == 400
    assert response.json()["sql"], response.json()
    assert response.json()["code"] == code
    assert ChatMessage.objects.count() == before


def test_an_edit_outside_the_scope_or_of_someone_elses_answer_is_refused(answered):
    client, message = answered
    UserScope.objects.create(user=client.user, allowed=["demo.orders"])
    outside = client.post(
        f"/api/chat/messages/{message.uuid}/rerun", {"sql": "SELECT name FROM customers"}, format="json"
    )
    assert outside.status_code == 400 and outside.json()["code"] == "table_not_allowed"
    stranger = client_for("mallory")
    response = stranger.post(f"/api/chat/messages/{message.uuid}/rerun", {"sql": "SELECT 1"}, format="json")
    assert response.status_code == 404
    assert client.post(f"/api/chat/messages/{message.uuid}/rerun", {}, format="json").json() == {
        "sql": ["This field is required."]
    }
