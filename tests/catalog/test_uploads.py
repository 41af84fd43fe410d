"""Bring your own data: upload (size limit, type sniffing, preview), import (a new source with its
suggestions), and bad files refused with a 4xx naming the field, leaving nothing behind."""

from __future__ import annotations

import doctest
import sqlite3
import stat
from pathlib import Path

import duckdb
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from catalog import uploads
from catalog.models import DataSource

pytestmark = pytest.mark.django_db

CSV = (
    b"city,sold_on,amount,kind\nParis,2024-01-05,12.5,web\nLyon,2024-02-07,8,store\nParis,2024-03-09,20,web\n"
)


@pytest.fixture(autouse=True)
def data_folders(settings, tmp_path: Path) -> Path:
    settings.UPLOADS_DIR = tmp_path / "uploads"
    return tmp_path


def leftovers(root: Path) -> list[str]:
    """Every file under the uploads folder and the snapshot cache (staging folders included)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def staff() -> APIClient:
    user = get_user_model().objects.create_user("sam", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_datasource"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(client: APIClient, name: str, content: bytes):
    return client.post(
        "/api/sources/uploads", {"file": SimpleUploadedFile(name, content)}, format="multipart"
    )


def test_docstring_examples():
    assert doctest.testmod(uploads).failed == 0


def test_a_csv_is_previewed_then_imported_as_a_source(staff, data_folders):
    response = upload(staff, "My Sales (2024).csv", CSV)
    assert response.status_code == 201, response.json()
    preview = response.json()
    assert preview["kind"] == "csv"
    assert preview["filename"] == "my_sales_2024.csv"
    assert preview["suggested_name"] == "my-sales-2024"
    (table,) = preview["tables"]
    assert table["name"] == "my_sales_2024" and table["row_count"] == 3
    assert {c["name"]: c["type"] for c in table["columns"]} == {
        "city": "VARCHAR", "sold_on": "DATE", "amount": "DOUBLE", "kind": "VARCHAR",
    }  # fmt: skip
    assert table["rows"][0] == ["Paris", "2024-01-05", 12.5, "web"]
    assert not list((data_folders / "catalog_cache").glob("~upload-*")), "the preview's snapshot is gone"

    imported = staff.post(
        f"/api/sources/uploads/{preview['upload_id']}",
        {"name": "sales", "description": "Shop sales"},
        format="json",
    )
    assert imported.status_code == 201, imported.json()
    source = DataSource.objects.get(name="sales")
    assert source.description == "Shop sales"
    stored = Path(source.path)
    assert stored == data_folders / "uploads" / "sales" / "my_sales_2024.csv"
    assert not stored.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH), "never executable"
    assert source.tables.get().columns.get(name="kind").profile["distinct_values"] == ["store", "web"]
    assert not list((data_folders / "uploads" / ".staging").iterdir()), "the staged copy is gone"
    # The new source is in the scope picker's list and gets its own suggested questions.
    assert "sales" in {s["name"] for s in staff.get("/api/sources").json()}
    suggestions = staff.get("/api/sources/sales/suggestions").json()["suggestions"]
    assert {s["kind"] for s in suggestions} >= {"breakdown", "filter"}


def test_sqlite_and_duckdb_files_are_recognised_by_their_bytes(staff, tmp_path):
    sqlite_path = tmp_path / "shop.bin"
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, kind TEXT)")
        conn.execute("INSERT INTO pets VALUES (1, 'cat'), (2, 'dog')")
    conn.close()
    response = upload(staff, "shop.sqlite", sqlite_path.read_bytes())
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "sqlite" and response.json()["tables"][0]["rows"] == [
        [1, "cat"],
        [2, "dog"],
    ]
    duck_path = tmp_path / "facts.duckdb"
    with duckdb.connect(str(duck_path)) as conn:
        conn.execute("CREATE TABLE facts AS SELECT range AS n FROM range(7)")
    response = upload(staff, "facts", duck_path.read_bytes())
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "duckdb" and response.json()["tables"][0]["row_count"] == 7


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("empty.csv", b"", 400, "empty"),
        ("tool.csv", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, 400, "not a CSV"),
        ("book.xlsx", b"PK\x03\x04" + b"x" * 64, 400, "Excel"),
        ("fake.parquet", CSV, 400, "named .parquet but its contents are CSV"),
        ("script.sh", b"#!/bin/sh\nrm -rf /\n", 400, "not a CSV"),
        ("latin.csv", "caf\xe9,1\n".encode("latin-1") * 10, 400, "not UTF-8"),
        ("broken.sqlite", b"SQLite format 3\x00" + b"\xff" * 200, 400, "cannot be read"),
    ],
)
def test_bad_files_get_a_clear_error_and_leave_nothing(staff, data_folders, name, content, status, message):
    response = upload(staff, name, content)
    assert response.status_code == status, response.json()
    assert message in response.json()["file"][0]
    assert [p for p in leftovers(data_folders) if not p.startswith("catalog_cache/.")] == []
    assert not DataSource.objects.exists()


def test_too_big_a_file_is_refused_with_413(staff, settings, data_folders):
    settings.UPLOAD_MAX_BYTES = 100
    response = upload(staff, "big.csv", CSV * 10)
    assert response.status_code == 413
    assert "limit" in response.json()["file"][0]
    assert leftovers(data_folders) == []


def test_import_checks_the_name_and_only_staff_may_upload(staff, data_folders, demo_source):
    upload_id = upload(staff, "a.csv", CSV).json()["upload_id"]
    taken = staff.post(f"/api/sources/uploads/{upload_id}", {"name": "demo"}, format="json")
    assert taken.status_code == 400 and "exists already" in taken.json()["name"][0]
    bad = staff.post(f"/api/sources/uploads/{upload_id}", {"name": "no spaces!"}, format="json")
    assert bad.status_code == 400 and bad.json()["name"]
    assert (
        staff.post("/api/sources/uploads/0123456789abcdef01234567", {"name": "x"}, format="json").status_code
        == 404
    )
    assert staff.delete(f"/api/sources/uploads/{upload_id}").status_code == 204
    assert staff.post(f"/api/sources/uploads/{upload_id}", {"name": "x"}, format="json").status_code == 404

    someone = APIClient()
    someone.force_authenticate(get_user_model().objects.create_user("joe", password="pw"))
    assert upload(someone, "a.csv", CSV).status_code == 403
