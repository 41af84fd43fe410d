"""The query connection: row cap, timeout, JSON-safe values, and the read-only / no-file-access lockdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from analytics_chat.llm.base import BudgetExceeded, CancelToken, GenerationAborted
from catalog.execution import QueryError, QueryTimeout, explain, open_connection, preview_table, run_query
from catalog.models import DataSource, Table
from catalog.sync import import_source
from tests.catalog.conftest import sha256_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(shop_duckdb: Path) -> DataSource:
    return import_source("shop", shop_duckdb, profile=False)


def test_row_cap_truncates_and_counts_every_row(shop: DataSource) -> None:
    result = run_query(shop, "SELECT order_id FROM orders ORDER BY order_id DESC", row_cap=5)
    assert result.rows == [[3000], [2999], [2998], [2997], [2996]]
    assert (result.row_count, result.truncated) == (3000, True)
    assert result.columns == ["order_id"] and result.types == ["INTEGER"]
    full = run_query(shop, "SELECT * FROM customers WHERE customer_id <= 3", row_cap=5)
    assert (full.row_count, full.truncated, len(full.rows)) == (3, False, 3)


def test_default_row_cap_comes_from_settings(shop: DataSource, settings) -> None:
    settings.QUERY = {**settings.QUERY, "ROW_CAP": 7}
    result = run_query(shop, "SELECT * FROM order_items")
    assert (len(result.rows), result.row_count, result.truncated) == (7, 6000, True)


def test_values_are_json_safe(shop: DataSource) -> None:
    result = run_query(
        shop,
        "SELECT amount, order_date, TIMESTAMP '2024-05-06 07:08:09' AS ts, '\\x41'::BLOB AS raw,"
        " 'nan'::DOUBLE AS nan, [1, 2] AS list FROM orders WHERE order_id = 3",
    )
    assert result.as_dict() == {
        "columns": ["amount", "order_date", "ts", "raw", "nan", "list"],
        "types": ["DECIMAL(10,2)", "DATE", "TIMESTAMP", "BLOB", "DOUBLE", "INTEGER[]"],
        "rows": [[3.75, "2024-01-04", "2024-05-06T07:08:09", "41", None, [1, 2]]],
        "row_count": 1,
        "truncated": False,
    }
    assert result.elapsed_ms >= 0


def test_slow_query_is_interrupted_at_the_timeout(shop: DataSource) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="1 s time limit"):
        run_query(
            shop,
            "SELECT count(*) FROM range(1000000000) a, range(1000) b WHERE a.range * b.range % 7 = 3",
            timeout_s=1,
        )
    assert time.monotonic() - started < 2.5
    # The next query on the same source is unaffected.
    assert run_query(shop, "SELECT count(*) FROM orders").rows == [[3000]]


def test_duckdb_errors_carry_duckdb_message(shop: DataSource) -> None:
    with pytest.raises(QueryError, match='Referenced column "nope" not found') as caught:
        run_query(shop, "SELECT nope FROM orders")
    assert not isinstance(caught.value, QueryTimeout)
    with pytest.raises(QueryError, match="empty"):
        run_query(shop, "   ")


def test_explain_checks_without_running(shop: DataSource) -> None:
    explain(shop, "SELECT status, count(*) FROM orders GROUP BY status")
    started = time.monotonic()
    explain(shop, "SELECT count(*) FROM range(1000000000000) a, range(1000) b")  # bound, never run
    assert time.monotonic() - started < 1
    with pytest.raises(QueryError, match="Table with name ordrs does not exist"):
        explain(shop, "SELECT * FROM ordrs")
    with pytest.raises(QueryError, match="exactly one SQL statement, got 2"):
        explain(shop, "SELECT 1; SELECT 2")
    with pytest.raises(QueryError, match="this is a DELETE statement"):
        explain(shop, "DELETE FROM orders")
    with pytest.raises(QueryError, match="syntax error"):
        explain(shop, "SELEC 1")


HOSTILE = [
    ("INSERT INTO orders (order_id) VALUES (99999)", "read-only"),
    ("UPDATE orders SET status = 'x'", "read-only"),
    ("DELETE FROM customers", "read-only"),
    ("DROP TABLE orders", "read-only"),
    ("CREATE TABLE stolen AS SELECT * FROM customers", "read-only"),
    ("CREATE TABLE memory.main.stolen AS SELECT 1", "memory"),
    ("ALTER TABLE orders ADD COLUMN x INTEGER", "read-only"),
    ("COPY orders TO '/tmp/catalog-leak.csv'", "file system operations are disabled"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
    ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
    ("ATTACH '/tmp/catalog-other.duckdb' AS other", "file system operations are disabled"),
    ("INSTALL httpfs", "disabled"),
    ("LOAD httpfs", "disabled"),
    ("SET enable_external_access = true", "configuration has been locked"),
    ("SET threads = 64", "configuration has been locked"),
    ("RESET memory_limit", "configuration has been locked"),
    ("PRAGMA memory_limit = '100GB'", "configuration has been locked"),
    ("SET lock_configuration = false", "configuration has been locked"),
    ("EXPORT DATABASE '/tmp/catalog-export'", "file system operations are disabled"),
]


@pytest.mark.parametrize(("sql", "message"), HOSTILE)
def test_connection_refuses_writes_files_and_settings(
    shop: DataSource, shop_duckdb: Path, sql, message
) -> None:
    before = sha256_of(shop_duckdb)
    with pytest.raises(QueryError, match=message):
        run_query(shop, sql)
    assert sha256_of(shop_duckdb) == before
    assert not Path("/tmp/catalog-leak.csv").exists() and not Path("/tmp/catalog-other.duckdb").exists()


def test_locked_settings_hold(shop: DataSource, settings) -> None:
    settings.QUERY = {**settings.QUERY, "MEMORY_LIMIT": "256MB", "THREADS": 1}
    conn = open_connection(shop)
    try:
        assert conn.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit'),"
            " current_setting('enable_external_access'), current_setting('lock_configuration')"
        ).fetchone() == (1, "244.1 MiB", False, True)
    finally:
        conn.close()


def test_memory_limit_is_a_hard_bound(shop: DataSource, settings) -> None:
    """No spilling to disk: a query that needs more than the limit fails fast with DuckDB's message."""
    settings.QUERY = {**settings.QUERY, "MEMORY_LIMIT": "32MB"}
    started = time.monotonic()
    with pytest.raises(QueryError, match="Out of Memory"):
        run_query(shop, "SELECT count(*) FROM (SELECT DISTINCT range % 5000000 FROM range(20000000))")
    assert time.monotonic() - started < 5


def test_concurrent_queries_do_not_disturb_each_other(shop: DataSource) -> None:
    """Each call has its own connection: a timeout in one thread leaves the others' results intact."""
    slow = "SELECT count(*) FROM range(1000000000) a, range(1000) b WHERE a.range * b.range % 7 = 3"

    def run(sql: str) -> object:
        try:
            return run_query(shop, sql, timeout_s=1).rows
        except QueryTimeout:
            return "timeout"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(run, [slow, "SELECT count(*) FROM orders", "SELECT max(order_id) FROM orders"])
        )
    assert results == ["timeout", [[3000]], [[3000]]]


@pytest.mark.parametrize("kind", ["sqlite", "csv", "folder"])
def test_snapshot_sources_are_read_only_too(
    kind: str, shop_sqlite: Path, write_csv, parquet_folder: Path
) -> None:
    path = {"sqlite": shop_sqlite, "csv": write_csv("t.csv", "a,b\n1,x\n"), "folder": parquet_folder}[kind]
    before = sha256_of(path)
    source = import_source(f"src-{kind}", path, profile=False)
    table = source.tables.order_by("name").first().name
    assert run_query(source, f"SELECT count(*) FROM {table}").row_count == 1
    for sql in (
        f"DELETE FROM {table}",
        "CREATE TABLE x AS SELECT 1",
        "SELECT * FROM read_csv('/etc/passwd')",
    ):
        with pytest.raises(QueryError):
            run_query(source, sql)
    assert sha256_of(path) == before


def test_preview_table(shop: DataSource) -> None:
    table = Table.objects.get(source=shop, name="customers")
    preview = preview_table(table, limit=3)
    assert preview.columns == ["customer_id", "name", "segment", "signup_date"]
    assert len(preview.rows) == 3 and preview.truncated and preview.row_count == 100


def test_missing_file_is_a_clear_query_error(tmp_path: Path) -> None:
    source = DataSource.objects.create(name="gone", kind=DataSource.Kind.CSV, path=str(tmp_path / "gone.csv"))
    with pytest.raises(QueryError, match=r"gone\.csv of source 'gone' does not exist"):
        run_query(source, "SELECT 1")


SLOW_SQL = "SELECT count(*) FROM range(1000000000) a, range(1000) b WHERE a.range * b.range % 7 = 3"


def test_an_abort_interrupts_a_running_query_of_the_job(shop: DataSource) -> None:
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    with token.bound(), pytest.raises(GenerationAborted) as info:
        run_query(shop, SLOW_SQL, timeout_s=30)
    assert type(info.value) is GenerationAborted
    assert time.monotonic() - started < 1.3
    assert run_query(shop, "SELECT count(*) FROM orders").rows == [[3000]]


def test_the_time_budget_interrupts_a_running_query(shop: DataSource) -> None:
    token = CancelToken(max_seconds=0.5)
    started = time.monotonic()
    with token.bound(), pytest.raises(BudgetExceeded):
        run_query(shop, SLOW_SQL, timeout_s=30)
    assert time.monotonic() - started < 1.5


def test_a_query_after_the_abort_does_not_start(shop: DataSource) -> None:
    token = CancelToken()
    token.cancel()
    with token.bound(), pytest.raises(GenerationAborted):
        run_query(shop, "SELECT count(*) FROM orders")
