"""Fixtures for the catalog tests: small real source files built in temporary folders."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

# A database in the style of public text-to-SQL benchmarks (quoted names, SQLite's loose declared types,
# a composite key, foreign keys between columns declared with different types); invented rows.
BENCHMARK_STYLE_SQL = """
CREATE TABLE "venue" ("Venue_ID" int, "Town" text, "Name" text, "Seats" int, PRIMARY KEY ("Venue_ID"));
CREATE TABLE "artist" ("Artist_ID" int, "Name" text, "Country" text, "Debut_year" text, "Age" int,
    "Is_solo" bool, PRIMARY KEY ("Artist_ID"));
CREATE TABLE "show" ("show_ID" int, "show_Name" text, "Venue_ID" text, "Year" text, PRIMARY KEY ("show_ID"),
    FOREIGN KEY ("Venue_ID") REFERENCES "venue"("Venue_ID"));
CREATE TABLE "artist_in_show" ("show_ID" int, "Artist_ID" text, PRIMARY KEY ("show_ID","Artist_ID"),
    FOREIGN KEY ("show_ID") REFERENCES "show"("show_ID"), FOREIGN KEY ("Artist_ID") REFERENCES "artist"("Artist_ID"));
INSERT INTO venue VALUES (1, 'Leeds', 'Corn Hall', 800), (2, 'Ghent', 'Vooruit', 1200);
INSERT INTO artist VALUES (1, 'Ana Vale', 'Portugal', '1999', 44, 'T'), (2, 'The Kites', 'Ireland', '2010', 31, 'F'),
    (3, 'Mo Reyes', 'Chile', '2015', 27, 'T'), (4, 'Lune', 'France', '2004', 39, 'T'),
    (5, 'Paul Ek', 'Sweden', '2012', 35, 'T'), (6, 'Dune Trio', 'Spain', '2018', 29, 'F');
INSERT INTO show VALUES (1, 'Spring Night', '1', '2014'), (2, 'Harvest', '2', '2015');
INSERT INTO artist_in_show VALUES (1, '1'), (1, '2'), (2, '3'), (2, '6');
"""


@pytest.fixture
def benchmark_style_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "shows.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(BENCHMARK_STYLE_SQL)
    conn.close()
    return path


@pytest.fixture(autouse=True)
def catalog_cache(settings, tmp_path: Path) -> Path:
    """Snapshots of non-DuckDB sources go to a per-test folder, never the shared data folder."""
    settings.CATALOG_CACHE_DIR = tmp_path / "catalog_cache"
    return settings.CATALOG_CACHE_DIR


def sha256_of(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(sha256_of(p).encode() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shop_duckdb(tmp_path: Path) -> Path:
    """customers ← orders ← order_items, with declared keys; 3 000 orders."""
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, segment VARCHAR,"
            " signup_date DATE)"
        )
        conn.execute(
            "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers,"
            " status VARCHAR, amount DECIMAL(10, 2), order_date DATE)"
        )
        conn.execute(
            "CREATE TABLE order_items (order_id INTEGER REFERENCES orders, line_no INTEGER, quantity INTEGER,"
            " PRIMARY KEY (order_id, line_no))"
        )
        conn.execute(
            "INSERT INTO customers SELECT i, 'Customer ' || i, ['Consumer', 'Corporate', 'Home Office'][i % 3 + 1],"
            " DATE '2023-01-01' + i::INTEGER FROM range(1, 101) t(i)"
        )
        conn.execute(
            "INSERT INTO orders SELECT i, i % 100 + 1, CASE WHEN i % 10 = 0 THEN NULL WHEN i % 4 = 0"
            " THEN 'cancelled' ELSE 'completed' END, (i % 500) * 1.25, DATE '2024-01-01' + (i % 366)::INTEGER"
            " FROM range(1, 3001) t(i)"
        )
        conn.execute(
            "INSERT INTO order_items SELECT o, l, (o + l) % 5 + 1 FROM range(1, 3001) a(o), range(1, 3) b(l)"
        )
    return path


@pytest.fixture
def shop_sqlite(tmp_path: Path) -> Path:
    """Declared keys, a foreign key, and SQLite's loose typing (a text value in an INTEGER column)."""
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
        CREATE TABLE albums (album_id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artists(id),
                             title TEXT, year INTEGER, price REAL);
        CREATE TABLE tracks (track_id INTEGER PRIMARY KEY, album_id INTEGER, seconds INT, plays BIGINT);
        INSERT INTO artists VALUES (1, 'Ada', 'UK'), (2, 'Bo', 'SE'), (3, 'Cy', NULL);
        INSERT INTO albums VALUES (10, 1, 'First', 1999, 9.5), (11, 1, 'Second', 'unknown', 12.0),
                                  (13, 3, 'Fourth', 2010, 7.25),
                                  (12, 2, 'Third', 2005, NULL);
        INSERT INTO tracks VALUES (100, 10, 180, 1), (101, 10, 200, 2), (102, 12, 95.5, 3);
        """
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def parquet_folder(tmp_path: Path) -> Path:
    """products, sales and product_details (1:1 with products) as Parquet: no declared keys at all."""
    folder = tmp_path / "lake"
    folder.mkdir()
    with duckdb.connect() as conn:
        conn.sql(
            "SELECT i AS id, 'Product ' || i AS name, ['Toys', 'Books'][i % 2 + 1] AS category FROM range(1, 21) t(i)"
        ).write_parquet(str(folder / "products.parquet"))
        conn.sql(
            "SELECT i AS sale_id, i % 20 + 1 AS product_id, i * 2.5 AS amount,"
            " TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS sold_at FROM range(1, 501) t(i)"
        ).write_parquet(str(folder / "sales.parquet"))
        conn.sql("SELECT i AS product_id, i % 3 AS warranty_years FROM range(1, 21, 2) t(i)").write_parquet(
            str(folder / "product_details.parquet")
        )
    return folder
