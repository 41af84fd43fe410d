"""The one module through which every query against a data source runs.

File sources: each call gets its own in-memory DuckDB connection with the source ATTACHed READ_ONLY and
made the default database, so model-written SQL can say ``SELECT * FROM orders``. Non-DuckDB files are
attached through a read-only snapshot (see ``catalog.snapshots``). After attaching, the connection is
locked down: no file or network access, memory and thread limits from ``settings.QUERY``, and the
configuration locked so SQL cannot undo any of it. This layer holds on its own, without the SQL guard.

Server sources (PostgreSQL, MySQL/MariaDB; ``PostgresEngine``, ``MySQLEngine``): the DuckDB SQL the
engine wrote is kept as a sqlglot tree, its names are spelt as the server spells them, it is transpiled
(``catalog.transpile``) and checked once more as the server will read it (``guard.check_server_sql``).
It runs on a fresh connection in a READ ONLY transaction with a server-side time limit, the row cap
fetched from a server-side cursor (PostgreSQL) or an unbuffered one under a LIMIT (MySQL); an abort or
the deadline cancels the statement on the server (``pg_cancel_backend``'s protocol message,
``KILL QUERY``). The read-only role the README asks for is the layer that holds without the guard.

Inside an answer, the job's cancel token is current (``CancelToken.bound``): an abort or the end of the
answer's time budget interrupts a running query (``connection.interrupt()``) and raises the token's own
error (``GenerationAborted`` or ``BudgetExceeded``), wherever the query was started from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import duckdb
import psycopg
import pymysql
import pymysql.cursors
import sqlglot
from django.conf import settings
from pymysql.constants import FIELD_TYPE
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from analytics_chat.llm.base import CancelToken
from catalog import guard, servers
from catalog.column_types import duckdb_type
from catalog.models import Column, DataSource, Table
from catalog.snapshots import SourceError, snapshot_path
from catalog.transpile import TranspileError, number_for_text_compared_with_number, render

ATTACHED_AS = "source"


class QueryError(Exception):
    """A query failed; the message is DuckDB's own (or says what was wrong with the source)."""


class QueryTimeout(QueryError):
    """A query ran longer than its timeout and was interrupted."""


class QueryAborted(QueryError):
    """The caller's cancel signal fired and the running statement was cancelled."""


class CancelSignal(Protocol):
    """What ``run_query`` needs of a cancel token (``analytics_chat.llm.base.CancelToken`` is one)."""

    @property
    def cancelled(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


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
    query = settings.QUERY
    return {
        "row_cap": int(query["ROW_CAP"]),
        "timeout_s": float(query["TIMEOUT_SECONDS"]),
        "memory_limit": str(query["MEMORY_LIMIT"]),
        "threads": int(query["THREADS"]),
        "temp_directory": str(query["TEMP_DIRECTORY"]),
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
        self._timer: threading.Timer | None = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:
            if self._timer is not None:
                self.expired = True
                self._conn.interrupt()

    def __enter__(self) -> _Deadline:
        assert self._timer is not None  # entered once
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            if self._timer is not None:
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
    source: DataSource,
    sql: str,
    *,
    row_cap: int | None = None,
    timeout_s: float | None = None,
    cancel: CancelSignal | None = None,
) -> QueryResult:
    """Run one query (DuckDB SQL) on a fresh locked-down connection; at most ``row_cap`` rows come back.

    Raises QueryTimeout past ``timeout_s``, QueryAborted when ``cancel`` fires (server sources; DuckDB
    files ignore it for now), and QueryError (the engine's message) for anything else."""
    limits = _query_settings()
    row_cap = limits["row_cap"] if row_cap is None else row_cap
    timeout_s = limits["timeout_s"] if timeout_s is None else timeout_s
    if row_cap < 0:
        raise ValueError(f"row_cap must be 0 or more, got {row_cap}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    if not sql or not sql.strip():
        raise QueryError("The SQL text is empty.")
    if source.is_server:
        return server_engine(source).run(sql, row_cap=row_cap, timeout_s=timeout_s, cancel=cancel)
    conn = open_connection(source)
    try:
        return _execute(conn, sql, row_cap, timeout_s)
    finally:
        conn.close()


def explain(source: DataSource, sql: str) -> None:
    """Check that the source's engine can parse and bind the SQL (names exist, types fit) without
    running it: DuckDB binds it, a server plans it (``EXPLAIN``).

    Raises QueryError carrying the engine's exact error message, or saying why the text is not one query."""
    if not sql or not sql.strip():
        raise QueryError("The SQL text is empty.")
    if source.is_server:
        server_engine(source).explain(sql)
        return
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


# --- Sessions: the internal reads of introspection and profiling ---------------------------------------


class Session(Protocol):
    """A read-only connection for the catalog's own queries (introspection, profiling); not for model SQL.

    ``fetchall`` takes a sqlglot tree (rendered in the session's dialect) or constant text with driver
    parameters; every statement has the session's time limit. ``table`` is a catalog table as this
    engine addresses it."""

    dialect: str

    def fetchall(self, query: exp.Expr | str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def table(self, name: str) -> exp.Table: ...


class DuckDBSession:
    dialect = "duckdb"

    def __init__(self, conn: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self.conn = conn
        self.timeout_s = timeout_s

    def fetchall(self, query: exp.Expr | str, params: Sequence[Any] = ()) -> list[tuple]:
        text = query if isinstance(query, str) else query.sql("duckdb")
        deadline = _Deadline(self.conn, self.timeout_s)
        try:
            with deadline:
                return self.conn.execute(text, list(params) or None).fetchall()
        except duckdb.Error as error:
            if deadline.expired or isinstance(error, duckdb.InterruptException):
                raise QueryTimeout(f"stopped after {self.timeout_s:g} s") from error
            raise QueryError(str(error)) from error

    def table(self, name: str) -> exp.Table:
        return table_reference(name)


@contextmanager
def open_session(source: DataSource, timeout_s: float | None = None) -> Iterator[Session]:
    """A read-only session on the source for the catalog's own queries, each limited to ``timeout_s``
    (default: the query timeout)."""
    timeout_s = _query_settings()["timeout_s"] if timeout_s is None else timeout_s
    if source.is_server:
        with server_engine(source).session(timeout_s) as session:
            yield session
        return
    conn = open_connection(source)
    try:
        yield DuckDBSession(conn, timeout_s)
    finally:
        conn.close()


# --- Server sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerTable:
    """A catalog table as its server spells it: schema, name and {lowercase column: column}."""

    schema: str
    name: str
    columns: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)  # lowercase column -> DuckDB type name

    def reference(self) -> exp.Table:
        return exp.Table(
            this=exp.to_identifier(self.name, quoted=True), db=exp.to_identifier(self.schema, quoted=True)
        )


class StatementWatch:
    """Cancels the running statement from a thread when ``cancel`` fires or ``timeout_s`` passes.

    The server's own time limit (``statement_timeout``, ``max_statement_time``) normally stops a statement
    first; the watch waits ``GRACE_S`` longer, for a server that did not (or a statement it does not time).

    ``aborted`` and ``expired`` tell afterwards which of the two it was (the server reports both alike)."""

    POLL_S = 0.05
    GRACE_S = 0.5

    def __init__(
        self,
        cancel: CancelSignal | None,
        timeout_s: float,
        on_fire: Callable[[], None],
        prepare: Callable[[], Any] | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.aborted = False
        self.expired = False
        self.fired = False
        self._cancel = cancel
        self._timeout_s = timeout_s
        self._on_fire = on_fire
        # Set up in the watch's own thread before it waits (e.g. the connection that will send KILL),
        # so that firing costs one round trip, and released when the watch ends.
        self._prepare = prepare
        self._release = release
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="query-watch")

    def _run(self) -> None:
        deadline = time.monotonic() + self._timeout_s + self.GRACE_S
        try:
            if self._prepare is not None:
                self._prepare()
            self._wait(deadline)
        finally:
            if self._release is not None:
                self._release()

    def _wait(self, deadline: float) -> None:
        while not self._done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.expired = True
                break
            wait_s = min(self.POLL_S, remaining)
            if self._cancel is not None and self._cancel.wait(wait_s):
                self.aborted = True
                break
            if self._cancel is None:
                self._done.wait(wait_s)
        with self._lock:
            if self._done.is_set():
                return
            self.fired = True
        # Outside the lock: the caller must not wait for a cancel request to finish. What it cancels
        # after the statement ended (the count, the CLOSE) no longer matters: the answer is an error.
        try:
            self._on_fire()
        except Exception:  # the statement's own error (or its end) tells the caller what happened
            pass

    def __enter__(self) -> StatementWatch:
        if self._cancel is not None and self._cancel.cancelled:
            raise QueryAborted("The query was aborted before it started.")
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done.set()  # a late fire must not cancel whatever the connection runs next
        # Not joined: the thread ends by itself within one poll, releasing what it prepared.


class ServerEngine:
    """What PostgreSQL and MySQL/MariaDB sources share: DuckDB SQL turned into the server's, the row cap,
    the count of a truncated result, the watch that cancels. Subclasses connect and talk to the driver."""

    dialect = ""
    default_port = 0

    def __init__(self, source: DataSource) -> None:
        try:
            servers.check_settings(source)
        except servers.ServerConfigError as error:
            raise QueryError(str(error)) from error
        self.source = source
        self.schemas = servers.schemas_of(source)

    # The query as the server will run it.
    def server_tree(self, sql: str) -> exp.Expr:
        """The DuckDB SQL as a tree for this server: names resolved against the catalog and spelt, quoted,
        as the server spells them (PostgreSQL and MySQL's table names are case-sensitive)."""
        try:
            statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
        except SqlglotError as error:
            raise QueryError(f"The SQL could not be parsed: {error}") from error
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise QueryError("Only one query can be run on a server source.")
        tables = self.catalog()
        try:
            qualified = guard.qualify_names(
                statements[0], {name: list(table.columns.values()) for name, table in tables.items()}
            )
        except guard.GuardError as error:
            raise QueryError(f"{error.message} (re-sync the source if its tables changed)") from error
        _name_like_duckdb(statements[0], qualified)
        if self.dialect == "postgres":
            number_for_text_compared_with_number(qualified, _type_schema(tables))
        return _respell(qualified, tables)

    def server_sql(self, tree: exp.Expr) -> str:
        """The tree as this server's SQL, after the per-dialect checks of the guard."""
        try:
            guard.check_target(tree, self.dialect)
            text = render(tree, self.dialect)
            guard.check_server_sql(text, self.dialect)
        except guard.GuardError as error:
            raise QueryError(error.message) from error
        except TranspileError as error:
            raise QueryError(str(error)) from error
        return text

    def catalog(self) -> dict[str, ServerTable]:
        return _server_tables(self.source, self.schemas[0])

    def table(self, name: str) -> exp.Table:
        """A catalog table name as this server addresses it (``orders`` -> ``"public"."orders"``)."""
        schema, _, table = name.rpartition(".")
        return ServerTable(schema or self.schemas[0], table, {}).reference()

    # Running.
    def run(
        self, sql: str, *, row_cap: int, timeout_s: float, cancel: CancelSignal | None = None
    ) -> QueryResult:
        tree = self.server_tree(sql)
        text = self.server_sql(self.capped(tree, row_cap + 1))
        counted = cast(exp.Query, tree).subquery("counted")  # the guard let only a query through
        count = self.server_sql(exp.select(exp.func("count", exp.Star())).from_(counted))
        return self.run_text(text, row_cap=row_cap, timeout_s=timeout_s, cancel=cancel, count_sql=count)

    def capped(self, tree: exp.Expr, limit: int) -> exp.Expr:
        """The query as it is fetched; MySQL adds a LIMIT (see MySQLEngine)."""
        return tree

    def explain(self, sql: str) -> None:
        self.explain_text(self.server_sql(self.server_tree(sql)))

    def run_text(
        self,
        text: str,
        *,
        row_cap: int,
        timeout_s: float,
        cancel: CancelSignal | None = None,
        count_sql: str | None = None,
    ) -> QueryResult:
        """Run server SQL as it is (no guard, no transpiling: tests of the read-only layer call this)."""
        raise NotImplementedError

    def explain_text(self, text: str) -> None:
        raise NotImplementedError

    def connect_read_only(self, timeout_s: float) -> Any:
        """A new driver connection exactly as queries get one: the read-only login's, in a READ ONLY
        transaction, with the server-side time limit. The caller closes it."""
        raise NotImplementedError

    def watch(self, conn: Any, cancel: CancelSignal | None, timeout_s: float) -> StatementWatch:
        """The watch that cancels ``conn``'s running statement on an abort or at the deadline."""
        raise NotImplementedError

    @contextmanager
    def session(self, timeout_s: float) -> Iterator[Session]:
        raise NotImplementedError
        yield

    def describe_server(self) -> str:
        """What "test connection" reports: the server's version and how many tables the source reads."""
        raise NotImplementedError

    # Shared helpers.
    def password(self) -> str | None:
        try:
            return servers.password_of(self.source)
        except servers.ServerConfigError as error:
            raise QueryError(str(error)) from error

    def _timeout_error(self, timeout_s: float) -> QueryTimeout:
        return QueryTimeout(
            f"The query was stopped after the {timeout_s:g} s time limit; try a narrower question or add filters."
        )

    def _result(
        self,
        names: list[str],
        types: list[str],
        rows: list[tuple],
        row_cap: int,
        started: float,
        count: Callable[[], int | None],
    ) -> QueryResult:
        truncated = len(rows) > row_cap
        rows = rows[:row_cap]
        row_count = len(rows)
        if truncated:
            counted = count()
            row_count = counted if counted is not None else row_cap + 1
        return QueryResult(
            columns=names,
            types=types,
            rows=[[json_safe(value) for value in row] for row in rows],
            row_count=row_count,
            truncated=truncated,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _respell(tree: exp.Expr, tables: dict[str, ServerTable]) -> exp.Expr:
    """Every base table as ``"schema"."Table"`` and every column read from one as the server spells it.

    The tree comes from ``guard.qualify_names``: columns carry their table's alias, names invented by the
    query (aliases, CTEs) are lowercase, and so stay consistent once every identifier is quoted."""
    for scope in traverse_scope(tree):
        targets: dict[str, ServerTable] = {}
        for table in scope.tables:
            if scope.sources.get(table.alias_or_name) is not table:
                continue  # a CTE
            target = tables.get(guard.table_key(table))
            if target is None:
                raise QueryError(f"Table {table.name} is not in the catalog (re-sync the source).")
            alias = table.alias_or_name
            targets[alias] = target
            table.set("this", exp.to_identifier(target.name, quoted=True))
            table.set("db", exp.to_identifier(target.schema, quoted=True))
            table.set("catalog", None)
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        for column in scope.columns:
            target = targets.get(column.table)
            if target is None:
                source = _enclosing_source(scope, column.table)
                target = tables.get(guard.table_key(source)) if isinstance(source, exp.Table) else None
            spelt = target.columns.get(column.name.lower()) if target else None
            if spelt:
                column.set("this", exp.to_identifier(spelt, quoted=True))
    _spell_order_by_aliases(tree)
    return tree


# PostgreSQL cuts longer names (NAMEDATALEN - 1).
MAX_ALIAS_CHARS = 63


def _name_like_duckdb(written: exp.Expr, qualified: exp.Expr) -> None:
    """Result columns named as the query wrote them: an unnamed ``count(*)`` is ``count(*)`` on every
    engine, not ``count``, ``COUNT(*)`` or the transpiled text with its casts."""
    before, after = guard.first_select(written), guard.first_select(qualified)
    if before is None or after is None or len(before.expressions) != len(after.expressions):
        return
    for original, projection in zip(before.expressions, after.expressions, strict=True):
        if isinstance(original, exp.Alias | exp.Column | exp.Star) or isinstance(projection, exp.Alias):
            continue
        name = original.sql("duckdb", comments=False)[:MAX_ALIAS_CHARS]
        projection.replace(exp.alias_(projection.copy(), exp.to_identifier(name)))


def _enclosing_source(scope: Any, name: str) -> Any:
    scope = scope.parent
    while scope is not None:
        if name in scope.sources:
            return scope.sources[name]
        scope = scope.parent
    return None


def _spell_order_by_aliases(tree: exp.Expr) -> None:
    """``ORDER BY total`` of ``... AS Total``: quoted names must match exactly on a server."""
    for query in tree.find_all(exp.Select, exp.SetOperation):
        order = query.args.get("order")
        if order is None:
            continue
        aliases = {name.lower(): name for name in query.named_selects}
        for ordered in order.expressions:
            column = ordered.this
            if isinstance(column, exp.Column) and not column.table and column.name.lower() in aliases:
                column.set("this", exp.to_identifier(aliases[column.name.lower()], quoted=True))


_CATALOG_CACHE: dict[tuple[int, Any], dict[str, ServerTable]] = {}


def _server_tables(source: DataSource, default_schema: str) -> dict[str, ServerTable]:
    """{lowercase catalog name: ServerTable} for the source, cached until it is synced again."""
    key = (source.pk, source.last_synced_at)
    cached = _CATALOG_CACHE.get(key)
    if cached is not None:
        return cached
    tables: dict[str, ServerTable] = {}
    columns: dict[int, dict[str, str]] = {}
    types: dict[int, dict[str, str]] = {}
    rows = Column.objects.filter(table__source=source).order_by("ordinal")
    for table_id, name, data_type in rows.values_list("table_id", "name", "data_type"):
        columns.setdefault(table_id, {})[name.lower()] = name
        types.setdefault(table_id, {})[name.lower()] = data_type
    for table in Table.objects.filter(source=source).only("id", "name"):
        schema, _, name = table.name.rpartition(".")
        tables[table.name.lower()] = ServerTable(
            schema or default_schema, name, columns.get(table.id, {}), types.get(table.id, {})
        )
    for stale in [k for k in _CATALOG_CACHE if k[0] == source.pk]:
        del _CATALOG_CACHE[stale]
    _CATALOG_CACHE[key] = tables
    return tables


def _type_schema(tables: dict[str, ServerTable]) -> dict:
    """Column types keyed as ``guard.qualify_names`` leaves the tree: by table, or by schema and table."""
    flat = {key: dict(table.types) for key, table in tables.items()}
    if not any("." in key for key in flat):
        return flat
    nested: dict[str, dict] = {}
    for key, columns in flat.items():
        schema, _, name = key.rpartition(".")
        nested.setdefault(schema or guard.DEFAULT_SCHEMA, {})[name] = columns
    return nested


def server_engine(source: DataSource) -> ServerEngine:
    """The engine that runs a server source's queries."""
    if source.kind == DataSource.Kind.POSTGRESQL:
        return PostgresEngine(source)
    if source.kind == DataSource.Kind.MYSQL:
        return MySQLEngine(source)
    raise QueryError(f"Source '{source.name}' ({source.kind}) is not a server source.")


def test_connection(source: DataSource) -> str:
    """Connect and read the server's version; raises QueryError saying why it could not."""
    return server_engine(source).describe_server()


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, whatever its name


# --- PostgreSQL ---------------------------------------------------------------------------------------


class PostgresEngine(ServerEngine):
    """psycopg 3. Queries run in ``BEGIN READ ONLY`` with ``statement_timeout`` and a server-side cursor;
    the connection itself starts with ``default_transaction_read_only`` on."""

    dialect = "postgres"
    default_port = 5432
    CURSOR_NAME = "analytics_chat_query"

    def _connect(self, timeout_s: float, *, autocommit: bool) -> Any:
        milliseconds = max(1, int(timeout_s * 1000))
        try:
            conn = psycopg.connect(
                host=self.source.host,
                port=servers.port_of(self.source),
                dbname=self.source.database,
                user=self.source.user or None,
                password=self.password(),
                sslmode=self.source.ssl_mode,
                connect_timeout=max(2, int(min(timeout_s, 10))),
                application_name="analytics-chat",
                options=f"-c statement_timeout={milliseconds} -c default_transaction_read_only=on "
                f"-c idle_in_transaction_session_timeout={milliseconds + 5000}",
                autocommit=autocommit,
            )
        except psycopg.Error as error:
            raise QueryError(f"Could not connect to source '{self.source.name}': {error}".strip()) from error
        if not autocommit:
            conn.read_only = True  # each transaction begins READ ONLY
        return conn

    def run_text(
        self,
        text: str,
        *,
        row_cap: int,
        timeout_s: float,
        cancel: CancelSignal | None = None,
        count_sql: str | None = None,
    ) -> QueryResult:
        started = time.perf_counter()
        conn = self.connect_read_only(timeout_s)
        watch = self.watch(conn, cancel, timeout_s)
        try:
            with watch:
                with conn.cursor(name=self.CURSOR_NAME) as cursor:
                    cursor.execute(text)
                    rows = cursor.fetchmany(row_cap + 1)
                    description = cursor.description or []
                names = [column.name for column in description]
                types = [self._type_name(conn, column.type_code) for column in description]

                def count() -> int | None:
                    if count_sql is None:
                        return None
                    return int(conn.execute(count_sql, prepare=True).fetchone()[0])

                return self._result(names, types, rows, row_cap, started, count)
        except psycopg.errors.QueryCanceled as error:
            if watch.aborted:
                raise QueryAborted("The query was aborted.") from error
            raise self._timeout_error(timeout_s) from error
        except psycopg.Error as error:
            if watch.aborted:
                raise QueryAborted("The query was aborted.") from error
            raise QueryError(_first_line(str(error))) from error
        finally:
            conn.close()

    def explain_text(self, text: str) -> None:
        timeout_s = _query_settings()["timeout_s"]
        conn = self.connect_read_only(timeout_s)
        try:
            # text: checked, transpiled server SQL; prepared, so it can only ever be one statement
            conn.execute(f"EXPLAIN {text}", prepare=True)
        except psycopg.errors.QueryCanceled as error:
            raise self._timeout_error(timeout_s) from error
        except psycopg.Error as error:
            raise QueryError(_first_line(str(error))) from error
        finally:
            conn.close()

    def connect_read_only(self, timeout_s: float) -> Any:
        return self._connect(timeout_s, autocommit=False)

    def watch(self, conn: Any, cancel: CancelSignal | None, timeout_s: float) -> StatementWatch:
        return StatementWatch(cancel, timeout_s, conn.cancel_safe)

    @staticmethod
    def _type_name(conn: Any, oid: int) -> str:
        info = conn.adapters.types.get(oid)
        return duckdb_type(info.name, "postgres") if info is not None else "UNKNOWN"

    @contextmanager
    def session(self, timeout_s: float) -> Iterator[Session]:
        # Autocommit: each statement is its own read-only transaction, so one that times out does not
        # abort the ones after it.
        conn = self._connect(timeout_s, autocommit=True)
        try:
            yield _PostgresSession(self, conn, timeout_s)
        finally:
            conn.close()

    def describe_server(self) -> str:
        with self.session(10) as session:
            version = session.fetchall("SHOW server_version")[0][0]
            tables = session.fetchall(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ANY(%s)",
                [self.schemas],
            )[0][0]
        return f"PostgreSQL {version}; {tables} tables and views readable in {', '.join(self.schemas)}"


class _PostgresSession:
    dialect = "postgres"

    def __init__(self, engine: PostgresEngine, conn: Any, timeout_s: float) -> None:
        self.engine = engine
        self.conn = conn
        self.timeout_s = timeout_s

    def fetchall(self, query: exp.Expr | str, params: Sequence[Any] = ()) -> list[tuple]:
        text = query if isinstance(query, str) else render(query, "postgres", identify=False)
        try:
            return self.conn.execute(text, list(params) or None).fetchall()
        except psycopg.errors.QueryCanceled as error:
            raise QueryTimeout(f"stopped after {self.timeout_s:g} s") from error
        except psycopg.Error as error:
            raise QueryError(_first_line(str(error))) from error

    def table(self, name: str) -> exp.Table:
        return self.engine.table(name)


# --- MySQL / MariaDB ----------------------------------------------------------------------------------

# Errors a server gives for a statement stopped by KILL QUERY or a time limit.
_MYSQL_INTERRUPTED = {1317, 3024, 1969}
# PyMySQL's "SSL is required but the server doesn't support it", and the servers that said so.
_MYSQL_NO_TLS = 2026
_MYSQL_WITHOUT_TLS: set[tuple[str, int]] = set()


class MySQLEngine(ServerEngine):
    """PyMySQL. Queries run after ``SET SESSION TRANSACTION READ ONLY`` in ``START TRANSACTION READ ONLY``
    with ``max_execution_time`` (MySQL) or ``max_statement_time`` (MariaDB); rows come from an unbuffered
    cursor under a LIMIT of the row cap + 1; an abort sends ``KILL QUERY`` on a second connection."""

    dialect = "mysql"
    default_port = 3306

    def _connect(self, timeout_s: float, *, cursor: str = "plain") -> Any:
        mode = self.source.ssl_mode
        context = None
        if mode != DataSource.SslMode.DISABLE and (
            self._address() not in _MYSQL_WITHOUT_TLS or mode != "prefer"
        ):
            context = ssl.create_default_context()
            if mode in (DataSource.SslMode.PREFER, DataSource.SslMode.REQUIRE):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif mode == DataSource.SslMode.VERIFY_CA:
                context.check_hostname = False

        def connect(ssl_context: Any) -> Any:
            return pymysql.connect(
                host=self.source.host,
                port=servers.port_of(self.source),
                user=self.source.user or None,
                password=self.password() or "",
                database=self.source.database,
                charset="utf8mb4",
                connect_timeout=max(1, int(min(timeout_s, 10))),
                cursorclass=pymysql.cursors.SSCursor if cursor == "unbuffered" else pymysql.cursors.Cursor,
                autocommit=True,
                ssl=ssl_context,
            )

        try:
            try:
                conn = connect(context)
            except pymysql.err.OperationalError as error:
                # PyMySQL insists on TLS once given a context; "prefer" goes on without it, and remembers.
                if context is None or mode != DataSource.SslMode.PREFER or error.args[0] != _MYSQL_NO_TLS:
                    raise
                _MYSQL_WITHOUT_TLS.add(self._address())
                conn = connect(None)
        except pymysql.Error as error:
            raise QueryError(f"Could not connect to source '{self.source.name}': {error}") from error
        try:
            with conn.cursor(pymysql.cursors.Cursor) as setup:
                if mode not in (DataSource.SslMode.DISABLE, DataSource.SslMode.PREFER):
                    setup.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    cipher = (setup.fetchone() or ("", ""))[1]
                    if not cipher:
                        raise QueryError(
                            f"Source '{self.source.name}' requires TLS (sslmode={mode}), which the server did not offer."
                        )
                setup.execute("SET SESSION TRANSACTION READ ONLY")
                milliseconds = max(1, int(timeout_s * 1000))
                if self.is_mariadb(conn):
                    setup.execute("SET SESSION max_statement_time = %s", (milliseconds / 1000,))
                else:
                    setup.execute("SET SESSION max_execution_time = %s", (milliseconds,))
        except pymysql.Error as error:
            conn.close()
            raise QueryError(f"Could not set up source '{self.source.name}': {error}") from error
        except QueryError:
            conn.close()
            raise
        return conn

    def _address(self) -> tuple[str, int]:
        return (self.source.host, servers.port_of(self.source))

    @staticmethod
    def is_mariadb(conn: Any) -> bool:
        return "mariadb" in conn.get_server_info().lower()

    def capped(self, tree: exp.Expr, limit: int) -> exp.Expr:
        """A LIMIT of at most ``limit`` on the outer query, so the server stops there (an unbuffered
        cursor would otherwise have to read every row before the connection can close)."""
        existing = tree.args.get("limit")
        if existing is None:
            capped = tree.copy()
            capped.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
            return capped
        value = existing.expression
        if isinstance(value, exp.Literal) and not value.is_string and int(value.name) > limit:
            capped = tree.copy()
            capped.args["limit"].set("expression", exp.Literal.number(limit))
            return capped
        return tree

    def connect_read_only(self, timeout_s: float) -> Any:
        conn = self._connect(timeout_s, cursor="unbuffered")
        try:
            with conn.cursor() as cursor:
                cursor.execute("START TRANSACTION READ ONLY")
        except pymysql.Error as error:
            conn.close()
            raise QueryError(_mysql_message(error)) from error
        return conn

    def watch(self, conn: Any, cancel: CancelSignal | None, timeout_s: float) -> StatementWatch:
        """KILL QUERY from a second connection, opened as the watch starts so that an abort is one round
        trip (the server's own time limit stops a statement past the deadline as well)."""
        thread_id = conn.thread_id()
        killer: list[Any] = []

        def open_killer() -> None:
            try:
                killer.append(self._connect(5))
            except QueryError:
                pass  # firing opens one then

        def kill() -> None:
            if not killer:
                open_killer()
            with killer[0].cursor() as cursor:
                cursor.execute("KILL QUERY %s", (thread_id,))

        def close_killer() -> None:
            for connection in killer:
                try:
                    connection.close()
                except pymysql.Error:
                    pass

        # Only an abort needs the killer ready: past the deadline the server's own limit has already struck.
        prepare = open_killer if cancel is not None else None
        return StatementWatch(cancel, timeout_s, kill, prepare=prepare, release=close_killer)

    def run_text(
        self,
        text: str,
        *,
        row_cap: int,
        timeout_s: float,
        cancel: CancelSignal | None = None,
        count_sql: str | None = None,
    ) -> QueryResult:
        started = time.perf_counter()
        conn = self.connect_read_only(timeout_s)
        watch = self.watch(conn, cancel, timeout_s)
        try:
            with watch:
                with conn.cursor() as cursor:
                    cursor.execute(text)
                    rows = list(cursor.fetchmany(row_cap + 1))
                    description = cursor.description or []
                    cursor.fetchall()  # the rest, at most the one over the cap: the connection is free again
                names = [column[0] for column in description]
                types = [_mysql_type(column) for column in description]

                def count() -> int | None:
                    if count_sql is None:
                        return None
                    with conn.cursor() as counter:
                        counter.execute(count_sql)
                        return int(counter.fetchone()[0])

                result = self._result(names, types, rows, row_cap, started, count)
            if watch.aborted:
                raise QueryAborted("The query was aborted.")
            if watch.expired:
                raise self._timeout_error(timeout_s)
            return result
        except pymysql.Error as error:
            code = error.args[0] if error.args else None
            if watch.aborted:
                raise QueryAborted("The query was aborted.") from error
            if watch.expired or code in _MYSQL_INTERRUPTED:
                raise self._timeout_error(timeout_s) from error
            raise QueryError(_mysql_message(error)) from error
        finally:
            try:
                conn.close()
            except pymysql.Error:
                pass

    def explain_text(self, text: str) -> None:
        timeout_s = _query_settings()["timeout_s"]
        conn = self._connect(timeout_s)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"EXPLAIN {text}")  # text: checked, transpiled server SQL
                cursor.fetchall()
        except pymysql.Error as error:
            code = error.args[0] if error.args else None
            if code in _MYSQL_INTERRUPTED:
                raise self._timeout_error(timeout_s) from error
            raise QueryError(_mysql_message(error)) from error
        finally:
            conn.close()

    @contextmanager
    def session(self, timeout_s: float) -> Iterator[Session]:
        conn = self._connect(timeout_s)
        try:
            yield _MySQLSession(self, conn, timeout_s)
        finally:
            conn.close()

    def describe_server(self) -> str:
        with self.session(10) as session:
            version = session.fetchall("SELECT VERSION()")[0][0]
            placeholders = ", ".join(["%s"] * len(self.schemas))
            tables = session.fetchall(
                f"SELECT count(*) FROM information_schema.tables WHERE table_schema IN ({placeholders})",
                self.schemas,
            )[0][0]
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{kind} {version}; {tables} tables and views readable in {', '.join(self.schemas)}"


class _MySQLSession:
    dialect = "mysql"

    def __init__(self, engine: MySQLEngine, conn: Any, timeout_s: float) -> None:
        self.engine = engine
        self.conn = conn
        self.timeout_s = timeout_s

    def fetchall(self, query: exp.Expr | str, params: Sequence[Any] = ()) -> list[tuple]:
        text = query if isinstance(query, str) else render(query, "mysql", identify=False)
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(text, tuple(params) or None)
                return list(cursor.fetchall())
        except pymysql.Error as error:
            code = error.args[0] if error.args else None
            if code in _MYSQL_INTERRUPTED:
                raise QueryTimeout(f"stopped after {self.timeout_s:g} s") from error
            raise QueryError(_mysql_message(error)) from error

    def table(self, name: str) -> exp.Table:
        return self.engine.table(name)


_MYSQL_TYPES = {
    "TINY": "TINYINT", "SHORT": "SMALLINT", "INT24": "INTEGER", "LONG": "INTEGER", "LONGLONG": "BIGINT",
    "DECIMAL": "DECIMAL", "NEWDECIMAL": "DECIMAL", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "YEAR": "INTEGER",
    "DATE": "DATE", "NEWDATE": "DATE", "TIME": "TIME", "DATETIME": "TIMESTAMP", "TIMESTAMP": "TIMESTAMP",
    "VARCHAR": "VARCHAR", "VAR_STRING": "VARCHAR", "STRING": "VARCHAR", "ENUM": "VARCHAR", "SET": "VARCHAR",
    "JSON": "JSON", "BIT": "BIT", "NULL": "NULL",
}  # fmt: skip


def _mysql_type(column: Sequence[Any]) -> str:
    """A result column's type (PyMySQL's description) under DuckDB's name; text and blobs share codes."""
    names = {getattr(FIELD_TYPE, n): n for n in dir(FIELD_TYPE) if n.isupper()}
    name = names.get(column[1], "UNKNOWN")
    if name.endswith("BLOB"):
        return "BLOB"
    return _MYSQL_TYPES.get(name, name)


def _mysql_message(error: Exception) -> str:
    args: tuple[Any, ...] = getattr(error, "args", ())
    return str(args[1]) if len(args) > 1 else str(error)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [text])[0]
