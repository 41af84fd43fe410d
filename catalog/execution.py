"""The one module through which every query against a data source runs.

Each call gets its own in-memory DuckDB connection with the source ATTACHed READ_ONLY and made the
default database, so model-written SQL can say ``SELECT * FROM orders``. Non-DuckDB sources are attached
through a read-only snapshot (see ``catalog.snapshots``). After attaching, the connection is locked down:
no file or network access, memory and thread limits from ``settings.QUERY``, and the configuration
locked so SQL cannot undo any of it. This layer holds on its own, without the SQL guard above it.

Inside an answer, the job's cancel token is current (``CancelToken.bound``): an abort or the end of the
answer's time budget interrupts a running query (``connection.interrupt()``) and raises the token's own
error (``GenerationAborted`` or ``BudgetExceeded``), wherever the query was started from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from sqlglot import exp

from analytics_chat.llm.base import CancelToken
from catalog.models import DataSource, Table
from catalog.snapshots import SourceError, snapshot_path

ATTACHED_AS = "source"


class QueryError(Exception):
    """A query failed; the message is DuckDB's own (or says what was wrong with the source)."""


class QueryTimeout(QueryError):
    """A query ran longer than its timeout and was interrupted."""


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float = field(default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """What the API puts into ``response_data.data``."""
        return {
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
        }


def _query_settings() -> dict[str, Any]:
    query = getattr(settings, "QUERY", {})
    return {
        "row_cap": int(query.get("ROW_CAP", 10_000)),
        "timeout_s": float(query.get("TIMEOUT_SECONDS", 10)),
        "memory_limit": str(query.get("MEMORY_LIMIT", "1GB")),
        "threads": int(query.get("THREADS", 2)),
        # "" = never spill to disk: memory_limit is a hard bound and queries write no files at all.
        "temp_directory": str(query.get("TEMP_DIRECTORY", "")),
    }


def database_file(source: DataSource) -> Path:
    """The DuckDB file that holds the source's tables: the file itself or its snapshot."""
    if source.kind == DataSource.Kind.DUCKDB:
        path = Path(source.path)
        if not path.is_file():
            raise SourceError(f"DuckDB file {path} of source '{source.name}' does not exist.")
        return path
    return snapshot_path(source)


def open_connection(source: DataSource) -> duckdb.DuckDBPyConnection:
    """A fresh, locked-down, read-only connection to the source. The caller closes it."""
    try:
        path = database_file(source)
    except SourceError as error:
        raise QueryError(str(error)) from error
    limits = _query_settings()
    conn = duckdb.connect(
        ":memory:",
        config={
            "threads": limits["threads"],
            "memory_limit": limits["memory_limit"],
            "temp_directory": limits["temp_directory"],
            # Extensions are never fetched or loaded behind our back.
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        },
    )
    try:
        attach = exp.Attach(
            this=exp.alias_(exp.Literal.string(str(path)), ATTACHED_AS),
            expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))],
        )
        conn.execute(attach.sql("duckdb"))
        conn.execute(f"USE {ATTACHED_AS}")
        # With the writable in-memory database gone, CREATE/INSERT can only target the read-only source
        # (temporary objects still work; they live and die with this connection).
        conn.execute("DETACH memory")
        # From here on: no files, no network, no settings changes. Order matters: the ATTACH above
        # needed file access, and locking must come last.
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except duckdb.Error as error:
        conn.close()
        raise QueryError(f"Could not open source '{source.name}': {error}") from error
    return conn


def json_safe(value: Any) -> Any:
    """A value JSON can carry: Decimal→float, dates→ISO text, bytes→hex, NaN/inf→None, nested too."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(item) for item in value]
    return str(value)


class _Deadline:
    """Interrupts the connection when the timeout passes; ``expired`` tells a timeout from other errors."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self.expired = False
        self._conn = conn
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:
            if self._timer is not None:
                self.expired = True
                self._conn.interrupt()

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._timer.cancel()
            self._timer = None  # a late timer must not interrupt whatever runs next


@contextlib.contextmanager
def interrupted_on_cancel(conn: duckdb.DuckDBPyConnection):
    """While the block runs, the current job's cancel token (if any) interrupts ``conn`` when it fires;
    a query it interrupted raises the token's error instead of DuckDB's."""
    token = CancelToken.current()
    if token is None:
        yield
        return
    token.raise_if_cancelled()
    unregister = token.on_cancel(conn.interrupt)
    try:
        yield
    except duckdb.Error:
        if token.cancelled:
            raise token.error() from None
        raise
    finally:
        unregister()


def _single_query(conn: duckdb.DuckDBPyConnection, sql: str) -> str | None:
    """The text of the one SELECT statement in ``sql``, or None when it is anything else."""
    statements = conn.extract_statements(sql)
    if len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT:
        return statements[0].query
    return None


def _count_rows(conn: duckdb.DuckDBPyConnection, sql: str, already: int) -> int:
    """Total rows of a truncated result. For a single SELECT, DuckDB counts them over the query as a
    subquery (the relational API wraps it; no SQL pasting), so no rows beyond cap+1 reach Python.
    Otherwise the rest of the open result is streamed in chunks and counted."""
    query = _single_query(conn, sql)
    if query is not None:
        conn.abort()  # drop the open result before the next statement on this connection
        return int(conn.sql(query).aggregate("count(*)").fetchall()[0][0])
    total = already
    while chunk := conn.fetchmany(50_000):
        total += len(chunk)
    return total


def _execute(conn: duckdb.DuckDBPyConnection, sql: str, row_cap: int, timeout_s: float) -> QueryResult:
    started = time.perf_counter()
    deadline = _Deadline(conn, timeout_s)
    try:
        with interrupted_on_cancel(conn), deadline:
            conn.execute(sql)
            description = conn.description or []
            rows = conn.fetchmany(row_cap + 1) if description else []
            truncated = len(rows) > row_cap
            rows = rows[:row_cap]
            row_count = _count_rows(conn, sql, row_cap + 1) if truncated else len(rows)
    except duckdb.Error as error:
        if deadline.expired or isinstance(error, duckdb.InterruptException):
            raise QueryTimeout(
                f"The query was stopped after the {timeout_s:g} s time limit; "
                "try a narrower question or add filters."
            ) from error
        raise QueryError(str(error)) from error
    return QueryResult(
        columns=[column[0] for column in description],
        types=[str(column[1]) for column in description],
        rows=[[json_safe(value) for value in row] for row in rows],
        row_count=row_count,
        truncated=truncated,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def run_query(
    source: DataSource, sql: str, *, row_cap: int | None = None, timeout_s: float | None = None
) -> QueryResult:
    """Run one query on a fresh locked-down connection; at most ``row_cap`` rows come back.

    Raises QueryTimeout past ``timeout_s`` and QueryError (DuckDB's message) for anything else."""
    limits = _query_settings()
    row_cap = limits["row_cap"] if row_cap is None else row_cap
    timeout_s = limits["timeout_s"] if timeout_s is None else timeout_s
    if row_cap < 0:
        raise ValueError(f"row_cap must be 0 or more, got {row_cap}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    if not sql or not sql.strip():
        raise QueryError("The SQL text is empty.")
    conn = open_connection(source)
    try:
        return _execute(conn, sql, row_cap, timeout_s)
    finally:
        conn.close()


def explain(source: DataSource, sql: str) -> None:
    """Check that DuckDB can parse and bind the SQL (names exist, types fit) without running it.

    Raises QueryError carrying DuckDB's exact error message, or saying why the text is not one query."""
    if not sql or not sql.strip():
        raise QueryError("The SQL text is empty.")
    conn = open_connection(source)
    try:
        statements = conn.extract_statements(sql)
        if len(statements) != 1:
            raise QueryError(f"Expected exactly one SQL statement, got {len(statements)}.")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise QueryError(f"Only queries can be run; this is a {statements[0].type.name} statement.")
        # A relation is bound (names and types checked) when it is made, and only runs when fetched.
        conn.sql(statements[0].query)
    except duckdb.Error as error:
        raise QueryError(str(error)) from error
    finally:
        conn.close()


def preview_table(table: Table, limit: int = 20) -> QueryResult:
    """The first ``limit`` rows of a catalog table; ``row_count`` and ``truncated`` tell how many there are."""
    query = exp.select("*").from_(table_reference(table.name))
    return run_query(table.source, query.sql("duckdb"), row_cap=limit)


def table_reference(name: str) -> exp.Table:
    """A catalog table name (``orders`` or ``schema.orders``) as a quoted sqlglot table."""
    schema, _, table = name.rpartition(".")
    return exp.Table(
        this=exp.to_identifier(table, quoted=True),
        db=exp.to_identifier(schema, quoted=True) if schema else None,
    )
