"""The catalog admin renders, saves, previews and runs its actions (Django test client, a superuser)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import Column, DataSource, Relationship, Table
from catalog.sync import import_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Client) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client.force_login(user)
    return client


@pytest.fixture
def shop(shop_duckdb: Path) -> DataSource:
    return import_source("shop", shop_duckdb)


def form_data(response) -> dict:
    """The POST data of a rendered admin change form, as a browser would send it."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        put(data, form.add_prefix(name), form[name].value())
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        for inline_form in formset.formset.forms:
            for name in inline_form.fields:
                put(data, inline_form.add_prefix(name), inline_form[name].value())
    return data


def put(data: dict, key: str, value: object) -> None:
    """A field's value as the browser posts it: unchecked boxes and empty values are left out."""
    if value is None or value is False:
        return
    if value is True:
        data[key] = "on"
    elif isinstance(value, list | dict):
        data[key] = json.dumps(value)
    else:
        data[key] = value


def test_changelists_and_search_render(admin_client_: Client, shop: DataSource) -> None:
    for model in (DataSource, Table, Column, Relationship):
        url = reverse(f"admin:catalog_{model._meta.model_name}_changelist")
        assert admin_client_.get(url).status_code == 200
        assert admin_client_.get(url, {"q": "order"}).status_code == 200
    response = admin_client_.get(reverse("admin:catalog_datasource_changelist"), {"kind__exact": "duckdb"})
    assert b"shop" in response.content
    response = admin_client_.get(reverse("admin:catalog_table_changelist"), {"q": "segment"})
    assert b"customers" in response.content and b"order_items" not in response.content


def test_table_change_form_with_columns_and_escaped_preview(admin_client_: Client, tmp_path: Path) -> None:
    path = tmp_path / "xss.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE notes (note_id INTEGER PRIMARY KEY, body VARCHAR)")
        conn.execute("INSERT INTO notes VALUES (1, '<script>alert(1)</script>'), (2, NULL)")
    source = import_source("xss", path)
    table = Table.objects.get(source=source, name="notes")
    response = admin_client_.get(reverse("admin:catalog_table_change", args=[table.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "<th>body</th>" in html and "<td>NULL</td>" in html
    assert "2 distinct; 0 null" in html  # note_id's profile, read-only in the inline


def test_table_change_form_saves_descriptions_synonyms_and_pk(
    admin_client_: Client, shop: DataSource
) -> None:
    table = Table.objects.get(source=shop, name="orders")
    url = reverse("admin:catalog_table_change", args=[table.pk])
    data = form_data(admin_client_.get(url))
    data["description"] = "One row per order."
    status = Column.objects.get(table=table, name="status")
    index = next(i for i, c in enumerate(table.columns.order_by("ordinal", "name")) if c.pk == status.pk)
    data[f"columns-{index}-description"] = "completed, cancelled or null."
    data[f"columns-{index}-synonyms"] = '["state"]'
    data[f"columns-{index}-is_primary_key"] = "on"
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    table.refresh_from_db()
    status.refresh_from_db()
    assert table.description == "One row per order."
    assert (status.description, status.synonyms, status.is_primary_key) == (
        "completed, cancelled or null.",
        ["state"],
        True,
    )


def test_column_and_relationship_forms(admin_client_: Client, shop: DataSource) -> None:
    column = Column.objects.get(table__source=shop, table__name="orders", name="customer_id")
    response = admin_client_.get(reverse("admin:catalog_column_change", args=[column.pk]))
    assert (
        response.status_code == 200 and "relationships to other columns" in response.content.decode().lower()
    )
    relationship = Relationship.objects.get(from_column=column)
    url = reverse("admin:catalog_relationship_change", args=[relationship.pk])
    assert admin_client_.get(url).status_code == 200
    response = admin_client_.post(
        url,
        {"from_column": column.pk, "to_column": relationship.to_column_id, "cardinality": "one_to_one"},
    )
    assert response.status_code == 302
    relationship.refresh_from_db()
    assert relationship.cardinality == "one_to_one" and relationship.inferred is False


def test_datasource_form_and_actions(admin_client_: Client, shop: DataSource, shop_duckdb: Path) -> None:
    response = admin_client_.get(reverse("admin:catalog_datasource_change", args=[shop.pk]))
    assert response.status_code == 200 and b"order_items" in response.content
    Column.objects.filter(table__source=shop).update(profile={})
    with duckdb.connect(str(shop_duckdb)) as conn:
        conn.execute("CREATE TABLE returns (return_id INTEGER, order_id INTEGER)")
    changelist = reverse("admin:catalog_datasource_changelist")
    response = admin_client_.post(
        changelist, {"action": "resync", "_selected_action": [shop.pk]}, follow=True
    )
    assert "Shop: 4 tables (+1 -0)" in response.content.decode()
    assert Table.objects.filter(source=shop, name="returns").exists()
    response = admin_client_.post(
        changelist, {"action": "reprofile", "_selected_action": [shop.pk]}, follow=True
    )
    assert "Shop: profiled 14 columns of 4 tables" in response.content.decode()
    segment = Column.objects.get(table__source=shop, table__name="customers", name="segment")
    assert segment.profile["distinct_values"] == ["Consumer", "Corporate", "Home Office"]


def test_resync_action_reports_a_missing_file(admin_client_: Client, tmp_path: Path) -> None:
    source = DataSource.objects.create(name="gone", kind="csv", path=str(tmp_path / "gone.csv"))
    response = admin_client_.post(
        reverse("admin:catalog_datasource_changelist"),
        {"action": "resync", "_selected_action": [source.pk]},
        follow=True,
    )
    assert "gone.csv of source &#x27;gone&#x27; does not exist" in response.content.decode()


def test_adding_a_source_in_admin_reads_it(admin_client_: Client, parquet_folder: Path) -> None:
    add = reverse("admin:catalog_datasource_add")
    blank = form_data(admin_client_.get(add))  # carries the (empty) table inline's management form
    response = admin_client_.post(add, {**blank, "name": "lake", "kind": "csv", "path": str(parquet_folder)})
    assert response.status_code == 200 and "A folder needs the kind" in response.content.decode()
    response = admin_client_.post(add, {**blank, "name": "lake", "kind": "folder", "path": "relative/dir"})
    assert "Give an absolute path." in response.content.decode()
    response = admin_client_.post(
        add, {**blank, "name": "lake", "kind": "folder", "path": str(parquet_folder)}, follow=True
    )
    assert "Lake: 3 tables (+3 -0)" in response.content.decode()
    source = DataSource.objects.get(name="lake")
    assert sorted(source.tables.values_list("name", flat=True)) == ["product_details", "products", "sales"]
    category = Column.objects.get(table__source=source, table__name="products", name="category")
    assert category.profile["distinct_values"] == ["Books", "Toys"]
