"""The admin pages for metrics, dimensions and statements render and save."""

from __future__ import annotations

import pytest

from semantic.models import Dimension, Metric, SemanticStatement


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(
        "admin", "admin@example.com", None
    )  # no password: no slow hashing
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["metric", "dimension", "semanticstatement"])
def test_changelist_and_add_pages_render(demo_source, staff_client, model):
    for suffix in ("", "add/", "?q=revenue", f"?source__id__exact={demo_source.id}"):
        response = staff_client.get(f"/admin/semantic/{model}/{suffix}")
        assert response.status_code == 200, suffix


def test_add_metric_and_bad_expression(demo_source, staff_client):
    data = {
        "source": demo_source.id,
        "name": "big_orders",
        "label": "Big orders",
        "description": "",
        "synonyms": '["large orders"]',
        "table": "orders",
        "expression": "COUNT(DISTINCT orders.order_id)",
        "filter": "",
        "time_dimension": "order_date",
        "format": "number",
    }
    response = staff_client.post("/admin/semantic/metric/add/", data)
    assert response.status_code == 302
    assert Metric.objects.get(name="big_orders").synonyms == ["large orders"]
    response = staff_client.post(
        "/admin/semantic/metric/add/", {**data, "name": "broken", "expression": "orders.order_id"}
    )
    assert response.status_code == 200 and b"must aggregate" in response.content
    assert not Metric.objects.filter(name="broken").exists()


def test_change_dimension_and_statement(demo_source, staff_client):
    country = Dimension.objects.get(name="country")
    page = staff_client.get(f"/admin/semantic/dimension/{country.id}/change/")
    assert page.status_code == 200 and b"customers.country" in page.content
    data = {
        "source": demo_source.id,
        "name": "country",
        "label": "Customer country",
        "description": "",
        "synonyms": "[]",
        "table": "customers",
        "expression": "customers.country",
        "kind": "categorical",
        "time_grains": "[]",
    }
    assert staff_client.post(f"/admin/semantic/dimension/{country.id}/change/", data).status_code == 302
    assert Dimension.objects.get(id=country.id).label == "Customer country"

    statement = SemanticStatement.objects.get(name="order_status_meanings")
    data = {
        "source": demo_source.id,
        "name": statement.name,
        "text": "Statuses explained.",
        "scope": "column",
        "target": "orders",
        "labels": "[]",
        "lookup_phrases": '["status"]',
        "enabled": "on",
    }
    response = staff_client.post(f"/admin/semantic/semanticstatement/{statement.id}/change/", data)
    assert (
        response.status_code == 200 and b"table.column" in response.content
    )  # column scope needs table.column
    data["target"] = "orders.status"
    assert (
        staff_client.post(f"/admin/semantic/semanticstatement/{statement.id}/change/", data).status_code
        == 302
    )
    assert SemanticStatement.objects.get(id=statement.id).text == "Statuses explained."


def test_list_editable_saves(demo_source, staff_client):
    statements = list(SemanticStatement.objects.filter(source=demo_source).order_by("source__name", "name"))
    data = {"form-TOTAL_FORMS": len(statements), "form-INITIAL_FORMS": len(statements), "_save": "Save"}
    for index, statement in enumerate(statements):
        data[f"form-{index}-id"] = statement.id
        if statement.enabled:
            data[f"form-{index}-enabled"] = "on"
        if statement.always_include or statement.name == "margin_rule":
            data[f"form-{index}-always_include"] = "on"
    response = staff_client.post("/admin/semantic/semanticstatement/", data)
    assert response.status_code == 302
    assert SemanticStatement.objects.get(name="margin_rule").always_include
