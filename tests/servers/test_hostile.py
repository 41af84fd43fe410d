"""The hostile corpus for server sources, against two layers that each hold alone.

1. The guard refuses every statement, for PostgreSQL and for MySQL/MariaDB.
2. With no guard at all, the server refuses it or does no harm: each statement runs as it is on a
   connection exactly as queries get one (the read-only login of the README, a READ ONLY transaction,
   the time limit and the watch that cancels), and afterwards nothing has changed, no file exists, and no
   answer carried /etc/passwd or the private table.
3. The READ ONLY transaction alone, under the administrator's login (which could write), refuses every
   write of the corpus.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml

from catalog.execution import QueryError, server_engine
from catalog.guard import GuardError, check_sql
from catalog.models import DataSource
from catalog.sync import import_source

from .conftest import SECRET, Server

CORPUS = yaml.safe_load((Path(__file__).parent / "hostile_server_sql.yaml").read_text())
WRITES = ("DROP", "TRUNCATE", "DELETE", "UPDATE", "INSERT", "REPLACE", "CREATE", "ALTER", "RENAME", "WITH gone",
          "SELECT * INTO")  # fmt: skip
TIMEOUT_S = 2.0
# The corpus sleeps and locks for 30 s; a statement that ends well before was cut off (generously: the
# machine is shared, and a busy server takes seconds to notice its own time limit).
CUT_OFF_BEFORE_S = 20
LEAKS = ("root:x:0", "root:*:0", SECRET, "md5", "SCRAM-SHA")

pytestmark = pytest.mark.django_db


def _statements(dialect: str, private: str, file: Path) -> list[str]:
    return [
        entry["sql"].format(private=private, file=file)
        for entry in CORPUS
        if ("postgres" if dialect == "postgres" else "mysql") in entry["servers"]
    ]


SCOPE = {"customers": ["id", "name", "country"], "orders": ["order_id", "customer_id", "amount", "status"]}


@pytest.mark.parametrize("target", ["postgres", "mysql"])
@pytest.mark.parametrize("entry", CORPUS, ids=[e["sql"][:60] for e in CORPUS])
def test_the_guard_refuses_every_statement(entry: dict, target: str) -> None:
    sql = entry["sql"].format(private="private", file="/tmp/ac_test_never")
    with pytest.raises(GuardError):
        check_sql(sql, allowed_tables=SCOPE, target=target)


def _fingerprint(server: Server) -> tuple:
    """What the hostile statements must not change, read by the administrator."""
    prefix = "shop." if server.dialect == "postgres" else ""
    counts = tuple(server.scalar(f"SELECT count(*) FROM {prefix}{t}") for t in ("customers", "orders"))
    names = (
        server.scalar(f"SELECT string_agg(name, ',' ORDER BY id) FROM {prefix}customers")
        if (server.dialect == "postgres")
        else server.scalar("SELECT group_concat(name ORDER BY id) FROM customers")
    )
    if server.dialect == "postgres":
        tables = server.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema IN ('shop', 'private')"
        )
    else:
        tables = server.scalar(
            f"SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ('{server.database}', "
            f"'{server.private}')"
        )
    return counts, names, tables


def _run_raw(engine, sql: str) -> list[tuple]:
    """``sql`` as it is, on the connection queries get, under the watch: no guard, no transpiling."""
    conn = engine.connect_read_only(TIMEOUT_S)
    try:
        with engine.watch(conn, None, TIMEOUT_S):
            if engine.dialect == "postgres":
                cursor = conn.execute(sql)
                return cursor.fetchall() if cursor.description else []
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()) if cursor.description else []
    finally:
        conn.close()


def _refused_or_harmless(engine, sql: str, driver_errors: tuple[type[Exception], ...]) -> str:
    started = time.monotonic()
    try:
        rows = _run_raw(engine, sql)
    except driver_errors as error:
        outcome = f"refused: {str(error).strip().splitlines()[0][:80]}"
    else:
        text = repr(rows)
        assert not any(leak in text for leak in LEAKS), f"{sql!r} returned {text[:200]}"
        outcome = f"ran, returned {text[:60]}"
    elapsed = time.monotonic() - started
    assert elapsed < CUT_OFF_BEFORE_S, f"{sql!r} ran {elapsed:.1f} s, past the time limit"
    return outcome


def _driver_errors():
    import psycopg
    import pymysql

    return (psycopg.Error, pymysql.Error, QueryError)


def test_the_read_only_login_and_transaction_refuse_the_corpus_without_the_guard(
    source: DataSource, server: Server
) -> None:
    file = Path(f"/tmp/ac_test_{uuid.uuid4().hex}")
    engine = server_engine(source)
    before = _fingerprint(server)
    outcomes = {sql: _refused_or_harmless(engine, sql, _driver_errors()) for sql in _statements(
        server.dialect, server.private, file)}  # fmt: skip
    for sql, outcome in outcomes.items():
        print(f"{server.dialect}: {sql[:70]:70} {outcome}")  # shown with -s
    assert _fingerprint(server) == before
    assert not file.exists()
    # every write was refused, not merely left without effect
    ran_writes = [
        sql for sql, outcome in outcomes.items() if sql.startswith(WRITES) and outcome.startswith("ran")
    ]
    assert ran_writes == []


def test_the_read_only_transaction_alone_refuses_every_write(server: Server, db, settings, tmp_path) -> None:
    """The administrator's login may write; inside the READ ONLY transaction it may not."""
    settings.CATALOG_SECRETS_DIR = tmp_path
    schema = "?schema=shop" if server.dialect == "postgres" else ""
    source = import_source(f"{server.dialect}-as-admin", server.admin_url() + schema, profile=False)
    engine = server_engine(source)
    before = _fingerprint(server)
    writes = [
        sql for sql in _statements(server.dialect, server.private, tmp_path / "x") if sql.startswith(WRITES)
    ]
    assert len(writes) >= 9
    for sql in writes:
        outcome = _refused_or_harmless(engine, sql, _driver_errors())
        assert outcome.startswith("refused"), f"{sql!r} {outcome}"
    assert _fingerprint(server) == before


def test_the_execution_path_sends_one_statement_so_the_read_only_transaction_holds(
    postgres_server: Server, db, settings, tmp_path
) -> None:
    """PostgreSQL lets the first statement of a READ ONLY transaction make it read-write: two statements
    sent as one string, ``SET transaction_read_only = off; <a write>``, escape the transaction under a login
    that may write. The execution path never sends such a string: a query runs as ``DECLARE ... CURSOR FOR
    <query>`` and EXPLAIN is prepared, where a second statement is a syntax error (and the guard lets one
    query through, and the read-only login may not write anyway)."""
    settings.CATALOG_SECRETS_DIR = tmp_path
    source = import_source("postgres-as-admin", postgres_server.admin_url() + "?schema=shop", profile=False)
    engine = server_engine(source)
    before = _fingerprint(postgres_server)
    escape = "SET transaction_read_only = off; DELETE FROM shop.orders"
    with pytest.raises(QueryError):
        engine.run_text(escape, row_cap=10, timeout_s=TIMEOUT_S)
    with pytest.raises(QueryError):
        engine.explain_text(escape)
    assert _fingerprint(postgres_server) == before
    # The same string sent as it is on the same kind of connection does escape: shown harmlessly, with a
    # temporary table that goes with the connection.
    assert _run_raw(engine, "SET transaction_read_only = off; CREATE TEMP TABLE escaped (x int)") == []
