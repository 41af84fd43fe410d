"""Shared fixtures for the SQL guard tests: the scopes and a small real DuckDB file with the demo schema."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest
import yaml

HERE = Path(__file__).parent

# Everything the demo database holds (see the demo-data issue for the schema).
FULL_SCOPE: dict[str, list[str]] = {
    "customers": ["customer_id", "name", "email", "segment", "country", "city", "signup_date"],
    "products": ["product_id", "name", "category", "subcategory", "unit_cost", "list_price"],
    "sales_reps": ["rep_id", "name", "region", "hire_date"],
    "orders": ["order_id", "customer_id", "rep_id", "order_date", "ship_date", "status", "channel"],
    "order_items": ["order_id", "line_no", "product_id", "quantity", "unit_price", "discount"],
}
# What the test caller may see: no sales_reps, no customers.email.
RESTRICTED_SCOPE: dict[str, list[str]] = {
    table: [column for column in columns if column != "email"]
    for table, columns in FULL_SCOPE.items()
    if table != "sales_reps"
}

# Fixed statements (not model output) that build a small seeded copy of the demo schema.
_BUILD_DEMO = """
SELECT setseed(0.42);
CREATE TABLE customers AS
SELECT i AS customer_id, 'Customer ' || i AS name, 'c' || i || '@example.com' AS email,
       ['Consumer', 'Corporate', 'Home Office'][1 + i % 3] AS segment,
       ['United States', 'Germany', 'Japan', 'France', 'Brazil'][1 + i % 5] AS country,
       ['Berlin', 'Boston', 'Tokyo', 'Paris', 'Bahia'][1 + (i * 7) % 5] AS city,
       DATE '2022-01-01' + i * 3 AS signup_date
FROM (SELECT CAST(range AS INTEGER) AS i FROM range(1, 61));
CREATE TABLE products AS
SELECT i AS product_id, 'Product ' || i AS name,
       ['Electronics', 'Furniture', 'Office Supplies', 'Clothing', 'Sports'][1 + i % 5] AS category,
       'Sub ' || (i % 3) AS subcategory, CAST(5 + i * 3.5 AS DECIMAL(10,2)) AS unit_cost,
       CAST(9 + i * 6.25 AS DECIMAL(10,2)) AS list_price
FROM (SELECT CAST(range AS INTEGER) AS i FROM range(1, 21));
CREATE TABLE sales_reps AS
SELECT i AS rep_id, 'Rep ' || i AS name, ['North America', 'Europe'][1 + i % 2] AS region,
       DATE '2020-01-01' + i * 30 AS hire_date
FROM (SELECT CAST(range AS INTEGER) AS i FROM range(1, 6));
CREATE TABLE orders AS
SELECT i AS order_id, 1 + (i * 13) % 60 AS customer_id, CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 5 END AS rep_id,
       DATE '2023-01-01' + (i * 3) % 1095 AS order_date,
       CASE WHEN i % 5 = 0 THEN NULL ELSE DATE '2023-01-01' + (i * 3) % 1095 + i % 9 END AS ship_date,
       ['completed', 'completed', 'cancelled', 'returned', 'pending'][1 + i % 5] AS status,
       ['web', 'store', 'mobile'][1 + (i * 7) % 3] AS channel
FROM (SELECT CAST(range AS INTEGER) AS i FROM range(1, 401));
CREATE TABLE order_items AS
SELECT o.order_id, l AS line_no, 1 + (o.order_id * l * 11) % 20 AS product_id, 1 + (o.order_id + l) % 4 AS quantity,
       CAST(9 + ((o.order_id * l * 11) % 20) * 6.25 AS DECIMAL(10,2)) AS unit_price,
       CAST(((o.order_id + l) % 3) * 0.05 AS DECIMAL(4,3)) AS discount
FROM orders o, range(1, 1 + 1 + o.order_id % 3) t(l);
"""


def load_yaml(name: str) -> list:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def demo_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("guard") / "demo.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(_BUILD_DEMO)
    return path


@pytest.fixture()
def demo_readonly(demo_duckdb: Path):
    connection = duckdb.connect(str(demo_duckdb), read_only=True)
    yield connection
    connection.close()
