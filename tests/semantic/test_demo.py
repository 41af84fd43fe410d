"""The demo retail database: exact schema, volumes, shape, determinism, and its registration."""

from __future__ import annotations

import io

import duckdb
import pytest
from django.core.management import call_command

from catalog.models import Column, Table
from semantic.demo import DEMO_FILE_NAME, build_demo_database, load_demo
from semantic.models import Dimension, Metric, SemanticStatement

SCHEMA = {
    "customers": [
        ("customer_id", "INTEGER"),
        ("name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("segment", "VARCHAR"),
        ("country", "VARCHAR"),
        ("city", "VARCHAR"),
        ("signup_date", "DATE"),
    ],
    "products": [
        ("product_id", "INTEGER"),
        ("name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("subcategory", "VARCHAR"),
        ("unit_cost", "DECIMAL(10,2)"),
        ("list_price", "DECIMAL(10,2)"),
    ],
    "sales_reps": [("rep_id", "INTEGER"), ("name", "VARCHAR"), ("region", "VARCHAR"), ("hire_date", "DATE")],
    "orders": [
        ("order_id", "INTEGER"),
        ("customer_id", "INTEGER"),
        ("rep_id", "INTEGER"),
        ("order_date", "DATE"),
        ("ship_date", "DATE"),
        ("status", "VARCHAR"),
        ("channel", "VARCHAR"),
    ],
    "order_items": [
        ("order_id", "INTEGER"),
        ("line_no", "INTEGER"),
        ("product_id", "INTEGER"),
        ("quantity", "INTEGER"),
        ("unit_price", "DECIMAL(10,2)"),
        ("discount", "DECIMAL(4,3)"),
    ],
}


def _one(duck, sql):
    return duck.execute(sql).fetchall()[0]


def _checksums(path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            table: connection.execute(
                f"SELECT count(*), md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM {table} t"
            ).fetchall()[0]
            for table in SCHEMA
        }


def test_exact_schema_and_keys(duck):
    for table, columns in SCHEMA.items():
        assert [(name, kind) for name, kind, *_ in duck.execute(f"DESCRIBE {table}").fetchall()] == columns
    keys = duck.execute(
        "SELECT table_name, constraint_column_names, referenced_table FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY ALL"
    ).fetchall()
    assert ("orders", ["customer_id"], "customers") in keys
    assert ("order_items", ["product_id"], "products") in keys
    assert ("customers", ["customer_id"], None) in keys


def test_volumes(duck):
    orders, first, last = _one(duck, "SELECT count(*), min(order_date), max(order_date) FROM orders")
    assert orders >= 30_000 and str(first) == "2023-01-01" and str(last) == "2025-12-31"
    assert _one(
        duck, "SELECT min(n), max(n) FROM (SELECT count(*) n FROM order_items GROUP BY order_id)"
    ) == (1, 5)
    assert _one(
        duck, "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)"
    ) == (0,)
    assert 1_800 <= _one(duck, "SELECT count(*) FROM customers")[0] <= 2_200
    countries = dict(
        duck.execute("SELECT country, count(DISTINCT city) FROM customers GROUP BY 1").fetchall()
    )
    assert 8 <= len(countries) <= 12 and all(cities >= 3 for cities in countries.values())
    assert {"United States", "Germany", "Japan", "France", "Brazil"} <= set(countries)
    assert 70 <= _one(duck, "SELECT count(*) FROM products")[0] <= 90
    assert ("Electronics", "Laptops") in duck.execute(
        "SELECT DISTINCT category, subcategory FROM products"
    ).fetchall()
    assert {r[0] for r in duck.execute("SELECT DISTINCT category FROM products").fetchall()} == {
        "Electronics",
        "Furniture",
        "Office Supplies",
        "Clothing",
        "Sports",
    }
    regions = {r[0] for r in duck.execute("SELECT DISTINCT region FROM sales_reps").fetchall()}
    assert regions == {"North America", "Europe", "Asia Pacific", "Latin America"}
    assert 18 <= _one(duck, "SELECT count(*) FROM sales_reps")[0] <= 22


def test_business_rules_in_the_data(duck):
    assert _one(duck, "SELECT count(*) FROM orders WHERE (channel = 'web') <> (rep_id IS NULL)") == (0,)
    assert _one(duck, "SELECT count(*) FROM orders WHERE status = 'cancelled' AND ship_date IS NOT NULL") == (
        0,
    )
    assert _one(
        duck, "SELECT count(*) FROM orders WHERE status IN ('completed', 'returned') AND ship_date IS NULL"
    ) == (0,)
    assert {r[0] for r in duck.execute("SELECT DISTINCT status FROM orders").fetchall()} == {
        "completed",
        "cancelled",
        "returned",
        "pending",
    }
    assert {r[0] for r in duck.execute("SELECT DISTINCT channel FROM orders").fetchall()} == {
        "web",
        "store",
        "mobile",
    }
    discounts = {float(r[0]) for r in duck.execute("SELECT DISTINCT discount FROM order_items").fetchall()}
    assert {0.0, 0.05, 0.1, 0.2} <= discounts and max(discounts) < 0.5
    assert _one(
        duck,
        "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
        "WHERE c.signup_date > o.order_date",
    ) == (0,)


def test_growth_and_seasonality(duck):
    yearly = [
        n
        for _, n in duck.execute(
            "SELECT year(order_date), count(*) FROM orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
    ]
    assert yearly[0] < yearly[1] < yearly[2]
    monthly = dict(duck.execute("SELECT month(order_date), count(*) FROM orders GROUP BY 1").fetchall())
    assert monthly[12] > 1.3 * monthly[2] and monthly[11] > monthly[7]


def test_builds_are_deterministic_and_atomic(demo_dir, tmp_path):
    again = build_demo_database(tmp_path / DEMO_FILE_NAME)
    assert _checksums(again) == _checksums(demo_dir / DEMO_FILE_NAME)
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEMO_FILE_NAME]  # no temp file left behind
    other = build_demo_database(tmp_path / "other.duckdb", seed=7)
    assert _checksums(other) != _checksums(again)


def test_registration_has_descriptions_and_a_semantic_model(demo_source):
    assert set(demo_source.tables.values_list("name", flat=True)) == set(SCHEMA)
    assert not Table.objects.filter(source=demo_source, description="").exists()
    assert not Column.objects.filter(table__source=demo_source, description="").exists()
    assert Column.objects.get(table__name="customers", name="customer_id").is_primary_key
    assert Metric.objects.filter(source=demo_source).count() >= 10
    assert Dimension.objects.filter(source=demo_source).count() >= 12
    assert SemanticStatement.objects.filter(source=demo_source).count() >= 5
    grains = Dimension.objects.get(source=demo_source, name="order_date").time_grains
    assert grains == ["day", "week", "month", "quarter", "year"]
    revenue = Metric.objects.get(source=demo_source, name="revenue")
    assert "sales" in revenue.synonyms and "turnover" in revenue.synonyms
    assert revenue.filter == "orders.status = 'completed'"


def test_load_demo_twice_keeps_rows_and_edits(demo_source, demo_dir):
    Table.objects.filter(source=demo_source, name="orders").update(description="Edited by a person.")
    counts = (
        Metric.objects.count(),
        Dimension.objects.count(),
        SemanticStatement.objects.count(),
        Column.objects.count(),
    )
    load_demo(demo_dir)
    assert (
        Metric.objects.count(),
        Dimension.objects.count(),
        SemanticStatement.objects.count(),
        Column.objects.count(),
    ) == counts
    assert Table.objects.get(source=demo_source, name="orders").description == "Edited by a person."


@pytest.mark.django_db
def test_load_demo_command(tmp_path):
    output = io.StringIO()
    call_command("load_demo", "--path", str(tmp_path), stdout=output)
    assert (tmp_path / DEMO_FILE_NAME).is_file()
    assert "orders (36,000 rows)" in output.getvalue()
    modified = (tmp_path / DEMO_FILE_NAME).stat().st_mtime_ns
    call_command("load_demo", "--path", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / DEMO_FILE_NAME).stat().st_mtime_ns == modified  # not rebuilt without --force
    call_command("load_demo", "--path", str(tmp_path), "--force", stdout=io.StringIO())
    assert (tmp_path / DEMO_FILE_NAME).stat().st_mtime_ns != modified
