"""import_source / sync_source / profile_source on real DuckDB, SQLite, CSV and Parquet files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import duckdb
import pytest
from django.core.management import CommandError, call_command

from catalog.execution import run_query
from catalog.models import Column, DataSource, Relationship, Table
from catalog.sync import guess_kind, import_source, profile_source, sync_source
from tests.catalog.conftest import sha256_of

pytestmark = pytest.mark.django_db


def columns_of(source: DataSource, table: str) -> dict[str, Column]:
    return {c.name: c for c in Column.objects.filter(table__source=source, table__name=table)}


def relationships_of(source: DataSource) -> set[tuple[str, str, str, bool]]:
    return {
        (
            f"{r.from_column.table.name}.{r.from_column.name}",
            f"{r.to_column.table.name}.{r.to_column.name}",
            r.cardinality,
            r.inferred,
        )
        for r in Relationship.objects.filter(from_column__table__source=source).select_related(
            "from_column__table", "to_column__table"
        )
    }


def test_duckdb_file_tables_columns_keys_and_row_counts(shop_duckdb: Path) -> None:
    before = sha256_of(shop_duckdb)
    source = import_source("shop", shop_duckdb)
    assert source.kind == DataSource.Kind.DUCKDB
    assert {t.name: t.row_count for t in source.tables.all()} == {
        "customers": 100,
        "orders": 3000,
        "order_items": 6000,
    }
    orders = columns_of(source, "orders")
    assert [c.name for c in sorted(orders.values(), key=lambda c: c.ordinal)] == [
        "order_id",
        "customer_id",
        "status",
        "amount",
        "order_date",
    ]
    assert orders["order_id"].is_primary_key and not orders["order_id"].is_nullable
    assert orders["amount"].data_type == "DECIMAL(10,2)"
    assert not orders["customer_id"].is_primary_key
    items = columns_of(source, "order_items")
    assert items["order_id"].is_primary_key and items["line_no"].is_primary_key  # composite key
    assert relationships_of(source) == {
        ("orders.customer_id", "customers.customer_id", "many_to_one", False),
        ("order_items.order_id", "orders.order_id", "many_to_one", False),
    }
    assert sha256_of(shop_duckdb) == before


def test_sqlite_file_keys_loose_types_and_readonly(shop_sqlite: Path) -> None:
    before = sha256_of(shop_sqlite)
    source = import_source("music", shop_sqlite)
    assert source.kind == DataSource.Kind.SQLITE
    albums = columns_of(source, "albums")
    assert albums["album_id"].is_primary_key
    assert albums["price"].data_type == "DOUBLE"
    # 'unknown' in an INTEGER column: kept as text rather than silently lost.
    assert albums["year"].data_type == "VARCHAR"
    assert albums["year"].profile["distinct_count"] == 4
    tracks = columns_of(source, "tracks")
    # 95.5 in an INT column: DuckDB would round it to 96, so the column stays text.
    assert (tracks["seconds"].data_type, tracks["plays"].data_type) == ("VARCHAR", "BIGINT")
    result = run_query(source, "SELECT seconds, plays FROM tracks ORDER BY track_id")
    assert result.rows == [["180", 1], ["200", 2], ["95.5", 3]]
    assert columns_of(source, "artists")["name"].is_nullable is False
    assert relationships_of(source) == {
        ("albums.artist_id", "artists.id", "many_to_one", False),  # declared
        ("tracks.album_id", "albums.album_id", "many_to_one", True),  # same name as albums' key
    }
    assert sha256_of(shop_sqlite) == before


def test_csv_file(write_csv) -> None:
    path = write_csv("people.csv", "id,name,born,score\n1,Ann,1990-02-03,7.5\n2,Bob,1985-11-30,\n3,Cid,,9\n")
    source = import_source("people", path)
    assert source.kind == DataSource.Kind.CSV
    table = Table.objects.get(source=source)
    assert (table.name, table.row_count) == ("people", 3)
    columns = columns_of(source, "people")
    assert columns["born"].data_type == "DATE"
    assert columns["id"].is_primary_key  # unique, non-null `id`: taken as the key
    assert columns["score"].profile == {"distinct_count": 2, "null_count": 1, "min": 7.5, "max": 9.0}
    assert columns["born"].profile["min"] == "1985-11-30"
    assert columns["name"].profile["distinct_values"] == ["Ann", "Bob", "Cid"]


def test_folder_of_parquet_files_with_inferred_relationship(parquet_folder: Path) -> None:
    before = sha256_of(parquet_folder)
    source = import_source("lake", parquet_folder)
    assert source.kind == DataSource.Kind.FOLDER
    assert {t.name: t.row_count for t in source.tables.all()} == {
        "products": 20,
        "sales": 500,
        "product_details": 10,
    }
    assert columns_of(source, "products")["id"].is_primary_key
    assert columns_of(source, "sales")["sale_id"].is_primary_key
    # `<singular table>_id` → `id`, inferred; unique referencing values make it one-to-one.
    assert relationships_of(source) == {
        ("sales.product_id", "products.id", "many_to_one", True),
        ("product_details.product_id", "products.id", "one_to_one", True),
    }
    sold_at = columns_of(source, "sales")["sold_at"].profile
    assert (sold_at["min"], sold_at["max"]) == ("2024-01-01T01:00:00", "2024-01-21T20:00:00")
    assert columns_of(source, "products")["category"].profile["distinct_values"] == ["Books", "Toys"]
    assert sha256_of(parquet_folder) == before
    # A file that goes away takes its table and the guesses about it along.
    (parquet_folder / "product_details.parquet").unlink()
    report = sync_source(source)
    assert report.tables_removed == ["product_details"]
    assert relationships_of(source) == {("sales.product_id", "products.id", "many_to_one", True)}


def test_resync_keeps_people_edits_and_follows_the_file(shop_duckdb: Path) -> None:
    source = import_source("shop", shop_duckdb)
    status = Column.objects.get(table__source=source, table__name="orders", name="status")
    status.description = "Where the order is in its life."
    status.synonyms = ["state"]
    status.save()
    Table.objects.filter(source=source, name="customers").update(description="People who buy.", enabled=False)
    with duckdb.connect(str(shop_duckdb)) as conn:
        # DuckDB refuses ALTER on a table others reference, so the changes go to order_items.
        conn.execute("ALTER TABLE order_items ADD COLUMN note VARCHAR DEFAULT 'none'")
        conn.execute("ALTER TABLE order_items DROP COLUMN quantity")
        conn.execute("CREATE TABLE notes (note_id INTEGER, body VARCHAR)")
    report = sync_source(source)
    assert sorted(report.columns_added) == ["notes.body", "notes.note_id", "order_items.note"]
    assert report.columns_removed == ["order_items.quantity"]
    assert report.tables_added == ["notes"]
    items = columns_of(source, "order_items")
    assert "quantity" not in items and items["note"].ordinal == 3
    assert items["note"].profile == {}  # new columns wait for the next profiling run
    status.refresh_from_db()
    assert (status.description, status.synonyms) == ("Where the order is in its life.", ["state"])
    customers = Table.objects.get(source=source, name="customers")
    assert (customers.description, customers.enabled) == ("People who buy.", False)
    # Dropping a table removes it from the catalog on the next sync.
    with duckdb.connect(str(shop_duckdb)) as conn:
        conn.execute("DROP TABLE notes")
    assert sync_source(source).tables_removed == ["notes"]


def test_resync_of_a_changed_csv_uses_a_fresh_snapshot(write_csv, catalog_cache: Path) -> None:
    path = write_csv("scores.csv", "player,points\nAnn,3\n")
    source = import_source("scores", path)
    columns_of(source, "scores")["points"].__class__.objects.filter(name="points").update(
        description="Goals."
    )
    time.sleep(0.01)  # a different mtime even on coarse file systems
    path.write_text("player,points,team\nAnn,3,Red\nBob,5,Blue\n")
    report = sync_source(source)
    assert report.columns_added == ["scores.team"]
    assert Table.objects.get(source=source).row_count == 2
    assert columns_of(source, "scores")["points"].description == "Goals."
    assert [p.name.split(".")[0] for p in catalog_cache.iterdir()] == ["scores"]  # the old snapshot is gone


def test_benchmark_style_sqlite(benchmark_style_sqlite: Path) -> None:
    path = benchmark_style_sqlite
    before = sha256_of(path)
    source = import_source("shows", path)
    assert {t.name for t in source.tables.all()} == {"venue", "artist", "show", "artist_in_show"}
    artist = columns_of(source, "artist")
    assert artist["Artist_ID"].is_primary_key and artist["Age"].data_type == "BIGINT"
    assert Table.objects.get(source=source, name="artist").row_count == 6
    assert {
        ("show.Venue_ID", "venue.Venue_ID", "many_to_one", False),
        ("artist_in_show.show_ID", "show.show_ID", "many_to_one", False),
        ("artist_in_show.Artist_ID", "artist.Artist_ID", "many_to_one", False),
    } <= relationships_of(source)
    assert artist["Is_solo"].profile["distinct_values"] == ["F", "T"]
    assert sha256_of(path) == before


def test_guess_kind_and_bad_input(tmp_path: Path, shop_duckdb: Path, shop_sqlite: Path) -> None:
    renamed = tmp_path / "data.db"
    renamed.write_bytes(shop_sqlite.read_bytes())
    assert guess_kind(renamed) == DataSource.Kind.SQLITE  # from the file's header, not its name
    assert guess_kind(shop_duckdb) == DataSource.Kind.DUCKDB
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="Cannot tell what kind"):
        guess_kind(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="does not exist"):
        import_source("missing", tmp_path / "nope.duckdb")
    with pytest.raises(ValueError, match="Source name 'no spaces!' must be a slug"):
        import_source("no spaces!", shop_duckdb)
    assert not DataSource.objects.exists()
    with pytest.raises(ValueError, match="Unknown source kind 'excel'"):
        import_source("bad", shop_duckdb, kind="excel")


def test_management_command_imports_and_resyncs(shop_duckdb: Path, capsys) -> None:
    call_command("import_source", "shop", str(shop_duckdb))
    out = capsys.readouterr().out
    assert "3 tables, 12 columns, 2 declared + 0 inferred relationships" in out
    call_command("import_source", "shop", str(shop_duckdb), "--no-profile", "--kind", "duckdb")
    assert DataSource.objects.filter(name="shop").count() == 1
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_source", "ghost", "/no/such/file.csv")


def test_profiling_the_demo_sized_data_is_fast(tmp_path: Path) -> None:
    """30 000 orders and ~90 000 lines, like the demo data: profiling must stay well under a few seconds."""
    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE orders AS SELECT i AS order_id, i % 2000 AS customer_id,"
            " ['completed', 'cancelled', 'returned', 'pending'][i % 4 + 1] AS status,"
            " ['web', 'store', 'mobile'][i % 3 + 1] AS channel, DATE '2023-01-01' + (i % 1095)::INTEGER AS order_date"
            " FROM range(30000) t(i)"
        )
        conn.execute(
            "CREATE TABLE order_items AS SELECT o.order_id, l AS line_no, (o.order_id * l) % 80 AS product_id,"
            " (l % 5 + 1) AS quantity, CAST(((o.order_id * 7) % 1000) / 10 AS DECIMAL(10, 2)) AS unit_price"
            " FROM orders o, range(1, 4) r(l)"
        )
    source = import_source("big", path, profile=False)
    report = profile_source(source)
    assert report.columns == 10
    assert report.elapsed_ms < 3000, f"profiling took {report.elapsed_ms:.0f} ms"
    status = Column.objects.get(table__source=source, table__name="orders", name="status")
    assert status.profile["distinct_values"] == ["cancelled", "completed", "pending", "returned"]
    price = Column.objects.get(table__source=source, table__name="order_items", name="unit_price")
    assert isinstance(price.profile["max"], float) and price.profile["max"] == 99.9


def test_sqlite_source_is_opened_read_only(shop_sqlite: Path) -> None:
    """The snapshot builder never writes the SQLite file, even with a journal left behind by others."""
    source = import_source("music", shop_sqlite)
    conn = sqlite3.connect(shop_sqlite)
    conn.execute("INSERT INTO artists VALUES (4, 'Di', 'FR')")
    conn.commit()
    conn.close()
    sync_source(source)
    assert Table.objects.get(source=source, name="artists").row_count == 4
