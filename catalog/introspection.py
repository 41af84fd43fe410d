"""Read a source's structure (tables, columns, keys) and its data profile, as plain dataclasses.

Nothing here writes to Django; ``catalog.sync`` turns these into catalog rows. Everything reads through
``catalog.execution`` (the same locked-down, read-only connections queries use), except the declared keys
of SQLite files, which come from SQLite itself opened read-only.

Server sources are read from their catalog views (``pg_catalog`` / ``information_schema``): the tables
and views of the chosen schemas that the login may read, their columns (types under DuckDB's names, see
``column_types.duckdb_type``), primary, unique and foreign keys, and comments as descriptions. Row counts
are the server's estimates (``pg_class.reltuples``, ``information_schema.TABLES.TABLE_ROWS``), counted
exactly only below ``EXACT_COUNT_BELOW`` rows; profiling reads a sample of bigger tables
(``TABLESAMPLE SYSTEM`` on PostgreSQL, the first rows on MySQL); every statement has a time limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from sqlglot import exp

from catalog import servers
from catalog.column_types import duckdb_type, is_number, is_temporal, is_text
from catalog.execution import (
    ATTACHED_AS,
    QueryError,
    QueryTimeout,
    Session,
    json_safe,
    open_connection,
    open_session,
    table_reference,
)
from catalog.models import DataSource
from catalog.snapshots import open_sqlite_readonly, sqlite_columns, sqlite_tables

MAX_DISTINCT_VALUES = 50
MAX_VALUE_CHARS = 80
# Server tables estimated below this many rows are counted exactly; bigger ones keep the estimate.
EXACT_COUNT_BELOW = 100_000
# Server tables above this many rows are profiled on a sample of about this many rows.
SAMPLE_ROWS = 100_000
# Types whose values can be told apart (count DISTINCT works on every server).
_COMPARABLE_EXTRA = ("BOOLEAN", "UUID")


@dataclass
class ColumnInfo:
    name: str
    data_type: str
    ordinal: int
    nullable: bool = True
    primary_key: bool = False
    unique: bool = False
    description: str = ""


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    row_count: int | None = None
    description: str = ""

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class ForeignKey:
    table: str
    columns: list[str]
    referenced_table: str
    referenced_columns: list[str]


@dataclass
class SourceSchema:
    tables: list[TableInfo] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    def table(self, name: str) -> TableInfo | None:
        return next((t for t in self.tables if t.name == name), None)


def _qualified(schema: str, table: str) -> str:
    return table if schema == "main" else f"{schema}.{table}"


def profile_timeout() -> float:
    return float(settings.QUERY["PROFILE_TIMEOUT_SECONDS"])


def introspect(source: DataSource) -> SourceSchema:
    """Tables (with row counts), columns and declared keys of a source."""
    if source.is_server:
        with open_session(source, profile_timeout()) as session:
            return _server_schema(session, servers.schemas_of(source))
    conn = open_connection(source)
    try:
        schema = _duckdb_schema(conn)
    finally:
        conn.close()
    if source.kind == DataSource.Kind.SQLITE:
        _apply_sqlite_keys(Path(source.path), schema)
    return schema


def _duckdb_schema(conn: duckdb.DuckDBPyConnection) -> SourceSchema:
    schema = SourceSchema()
    by_name: dict[str, TableInfo] = {}
    columns = conn.execute(
        "SELECT schema_name, table_name, column_name, column_index, data_type, is_nullable "
        "FROM duckdb_columns() WHERE database_name = ? AND NOT internal "
        "ORDER BY schema_name, table_name, column_index",
        [ATTACHED_AS],
    ).fetchall()
    for schema_name, table_name, column_name, index, data_type, nullable in columns:
        name = _qualified(schema_name, table_name)
        if name not in by_name:
            by_name[name] = TableInfo(name=name, columns=[])
            schema.tables.append(by_name[name])
        by_name[name].columns.append(ColumnInfo(column_name, data_type, index, bool(nullable)))
    constraints = conn.execute(
        "SELECT schema_name, table_name, constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names FROM duckdb_constraints() WHERE database_name = ? "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')",
        [ATTACHED_AS],
    ).fetchall()
    for schema_name, table_name, kind, names, referenced, referenced_names in constraints:
        table = by_name.get(_qualified(schema_name, table_name))
        if table is None:
            continue
        if kind == "FOREIGN KEY":
            schema.foreign_keys.append(
                ForeignKey(
                    table.name, list(names), _qualified(schema_name, referenced), list(referenced_names)
                )
            )
            continue
        for column in filter(None, (table.column(n) for n in names)):
            column.primary_key = column.primary_key or kind == "PRIMARY KEY"
            column.unique = column.unique or len(names) == 1
    for table in schema.tables:
        count = exp.select(exp.func("count", exp.Star())).from_(table_reference(table.name))
        (row_count,) = conn.execute(count.sql("duckdb")).fetchone() or (None,)
        table.row_count = int(row_count)
    return schema


def _apply_sqlite_keys(path: Path, schema: SourceSchema) -> None:
    """The snapshot has no constraints; SQLite's own catalog has them (read-only)."""
    conn = open_sqlite_readonly(path)
    try:
        for table_name in sqlite_tables(conn):
            table = schema.table(table_name)
            if table is None:
                continue
            declared = sqlite_columns(conn, table_name)
            key_columns = [name for name, _, pk, _ in declared if pk]
            for name, declared_type, pk, notnull in declared:
                column = table.column(name)
                if column is None:
                    continue
                column.primary_key = bool(pk)
                column.unique = bool(pk) and len(key_columns) == 1
                column.nullable = not (notnull or (pk and "INT" not in declared_type.upper()))
            # One row per referencing column; `id` groups the columns of one composite key.
            rows = conn.execute(
                'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
                (table_name,),
            ).fetchall()
            grouped: dict[int, ForeignKey] = {}
            for key_id, referenced, from_column, to_column in rows:
                key = grouped.setdefault(key_id, ForeignKey(table_name, [], referenced, []))
                key.columns.append(from_column)
                key.referenced_columns.append(to_column)
            for key in grouped.values():
                _resolve_referenced(schema, key)
    finally:
        conn.close()


def _resolve_referenced(schema: SourceSchema, key: ForeignKey) -> None:
    """SQLite allows `REFERENCES t` (meaning t's primary key) and table names in any letter case."""
    target = schema.table(key.referenced_table) or next(
        (t for t in schema.tables if t.name.lower() == key.referenced_table.lower()), None
    )
    if target is None:
        return
    key.referenced_table = target.name
    if any(name is None for name in key.referenced_columns):
        key.referenced_columns = [c.name for c in target.columns if c.primary_key]
    schema.foreign_keys.append(key)


# --- Server sources ----------------------------------------------------------------------------------

_PG_RELATIONS = """
SELECT n.nspname, c.relname, c.reltuples::bigint, coalesce(obj_description(c.oid, 'pg_class'), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""
_PG_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce(col_description(c.oid, a.attnum), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege(c.oid, a.attnum, 'SELECT')
ORDER BY n.nspname, c.relname, a.attnum
"""
_PG_KEYS = """
SELECT n.nspname, c.relname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.i),
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.i)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY(%s) AND con.contype IN ('p', 'u', 'f')
ORDER BY n.nspname, c.relname, con.conname
"""
_MYSQL_TABLES = """
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, TABLE_COMMENT, TABLE_TYPE FROM information_schema.TABLES
WHERE TABLE_SCHEMA IN ({schemas}) ORDER BY TABLE_SCHEMA, TABLE_NAME
"""
_MYSQL_COLUMNS = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE = 'YES',
       COLUMN_COMMENT
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({schemas})
ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""
_MYSQL_KEYS = """
SELECT k.TABLE_SCHEMA, k.TABLE_NAME, t.CONSTRAINT_TYPE, k.CONSTRAINT_NAME, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.TABLE_CONSTRAINTS t
  ON t.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND t.TABLE_SCHEMA = k.TABLE_SCHEMA
 AND t.TABLE_NAME = k.TABLE_NAME AND t.CONSTRAINT_NAME = k.CONSTRAINT_NAME
WHERE k.TABLE_SCHEMA IN ({schemas}) AND t.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""
_KEY_KINDS = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY"}


def _server_schema(session: Session, schemas: list[str]) -> SourceSchema:
    """The chosen schemas' tables and views as the session's login may read them. With one schema
    tables go by their bare name; with several, as ``schema.table``."""

    def name_of(schema_name: str, table_name: str) -> str:
        return table_name if len(schemas) == 1 else f"{schema_name}.{table_name}"

    if session.dialect == "postgres":
        relations = session.fetchall(_PG_RELATIONS, [schemas])
        columns = session.fetchall(_PG_COLUMNS, [schemas])
        keys = [
            (schema_name, table_name, _KEY_KINDS[kind], names, ref_schema, ref_table, ref_names)
            for schema_name, table_name, kind, names, ref_schema, ref_table, ref_names in session.fetchall(
                _PG_KEYS, [schemas]
            )
        ]
    else:
        placeholders = ", ".join(["%s"] * len(schemas))
        relations = [
            (schema_name, table_name, None if kind == "VIEW" else rows, comment)
            for schema_name, table_name, rows, comment, kind in session.fetchall(
                _MYSQL_TABLES.format(schemas=placeholders), schemas
            )
        ]
        columns = session.fetchall(_MYSQL_COLUMNS.format(schemas=placeholders), schemas)
        keys = _grouped_mysql_keys(session.fetchall(_MYSQL_KEYS.format(schemas=placeholders), schemas))

    schema = SourceSchema()
    by_name: dict[str, TableInfo] = {}
    estimates: dict[str, int | None] = {}
    for schema_name, table_name, estimate, comment in relations:
        info = TableInfo(name=name_of(schema_name, table_name), columns=[], description=comment or "")
        by_name[info.name] = info
        estimates[info.name] = int(estimate) if estimate is not None and estimate >= 0 else None
        schema.tables.append(info)
    for schema_name, table_name, column_name, ordinal, native_type, nullable, comment in columns:
        table = by_name.get(name_of(schema_name, table_name))
        if table is not None:
            table.columns.append(
                ColumnInfo(
                    column_name,
                    duckdb_type(native_type, session.dialect),
                    int(ordinal) - 1,
                    bool(nullable),
                    description=comment or "",
                )
            )
    for schema_name, table_name, kind, names, ref_schema, ref_table, ref_names in keys:
        table = by_name.get(name_of(schema_name, table_name))
        if table is None:
            continue
        if kind == "FOREIGN KEY":
            referenced = by_name.get(name_of(ref_schema, ref_table)) if ref_schema in schemas else None
            if referenced is not None:
                schema.foreign_keys.append(
                    ForeignKey(table.name, list(names), referenced.name, list(ref_names))
                )
            continue
        for column in filter(None, (table.column(n) for n in names)):
            column.primary_key = column.primary_key or kind == "PRIMARY KEY"
            column.unique = column.unique or len(names) == 1
    for table in schema.tables:
        table.row_count = _row_count(session, table.name, estimates[table.name])
    return schema


def _grouped_mysql_keys(rows: list[tuple]) -> list[tuple]:
    """One row per key (its columns in order), as PostgreSQL's query gives them."""
    grouped: dict[tuple, list] = {}
    for schema_name, table_name, kind, key_name, column, ref_schema, ref_table, ref_column in rows:
        key = grouped.setdefault(
            (schema_name, table_name, key_name),
            [schema_name, table_name, kind, [], ref_schema, ref_table, []],
        )
        key[3].append(column)
        if ref_column is not None:
            key[6].append(ref_column)
    return [tuple(key) for key in grouped.values()]


def _row_count(session: Session, table: str, estimate: int | None) -> int | None:
    """The exact count of a table estimated small (or not estimated, as a view), else the estimate; the
    estimate too when counting runs out of time."""
    if estimate is not None and estimate >= EXACT_COUNT_BELOW:
        return estimate
    count = exp.select(exp.func("count", exp.Star())).from_(session.table(table))
    try:
        return int(session.fetchall(count)[0][0])
    except (QueryTimeout, QueryError):
        return estimate


# --- Profiling -----------------------------------------------------------------------------------


def profile_table(session: Session, table: TableInfo) -> dict[str, dict[str, Any]]:
    """Per column: distinct_count and null_count; min/max for numbers and dates; the sorted distinct
    values of text columns with at most MAX_DISTINCT_VALUES of them. One scan of the table for the counts,
    and one small query per text column with few values.

    A server table of more than SAMPLE_ROWS rows (by ``row_count``) is profiled on a sample: its profile
    says ``"sampled": true`` and leaves out min and max unless the whole table answered them in time (a
    sample's minimum is not the table's, and the engine reads min and max as bounds)."""
    reference = session.table(table.name)
    sampled = session.dialect != "duckdb" and (table.row_count or 0) > SAMPLE_ROWS
    source = _sample(session, reference, table.row_count or 0) if sampled else reference
    stats: list[exp.Expr] = []
    countable = {c.name for c in table.columns if session.dialect == "duckdb" or _comparable(c.data_type)}
    for column in table.columns:
        ref = exp.column(column.name, quoted=True)
        if column.name in countable:
            stats.append(exp.func("count", exp.Distinct(expressions=[ref])))
        stats.append(exp.func("count", ref))
        if _has_bounds(column.data_type) and not sampled:
            stats += [exp.func("min", ref), exp.func("max", ref)]
    row = session.fetchall(exp.select(exp.func("count", exp.Star()), *stats).from_(source))[0]
    total, values = row[0], iter(row[1:])
    profiles: dict[str, dict[str, Any]] = {}
    for column in table.columns:
        distinct = next(values) if column.name in countable else None
        non_null = next(values)
        profile: dict[str, Any] = {"distinct_count": distinct, "null_count": total - non_null}
        if _has_bounds(column.data_type) and not sampled:
            profile["min"], profile["max"] = json_safe(next(values)), json_safe(next(values))
        if sampled:
            profile["sampled"] = True
        profiles[column.name] = profile
    if sampled:
        _add_bounds(session, reference, table, profiles)
    for column in table.columns:
        distinct = profiles[column.name]["distinct_count"]
        if is_text(column.data_type) and distinct and distinct <= MAX_DISTINCT_VALUES:
            ref = exp.column(column.name, quoted=True)
            query = (
                exp.select(ref)
                .distinct()
                .from_(source.copy())
                .where(ref.is_(exp.null()).not_())
                .order_by(ref)
                .limit(MAX_DISTINCT_VALUES + 1)
            )
            profiles[column.name]["distinct_values"] = [
                _shorten(value) for (value,) in session.fetchall(query)
            ]
    return profiles


def _comparable(data_type: str) -> bool:
    return (
        is_number(data_type) or is_temporal(data_type) or is_text(data_type) or data_type in _COMPARABLE_EXTRA
    )


def _has_bounds(data_type: str) -> bool:
    return is_number(data_type) or is_temporal(data_type)


def _sample(session: Session, reference: exp.Table, row_count: int) -> exp.Expr:
    """About SAMPLE_ROWS rows of a big table: PostgreSQL's block sample, else the first rows."""
    if session.dialect == "postgres":
        percent = max(0.01, min(100.0, 100.0 * SAMPLE_ROWS / row_count))
        sampled = reference.copy()
        sampled.set("sample", exp.TableSample(method="SYSTEM", percent=exp.Literal.number(round(percent, 4))))
        return sampled
    return exp.select("*").from_(reference.copy()).limit(SAMPLE_ROWS).subquery("sampled")


def _add_bounds(session: Session, reference: exp.Table, table: TableInfo, profiles: dict[str, dict]) -> None:
    """min and max of a sampled table's numbers and dates over the whole table, if that fits the time limit."""
    bounded = [c for c in table.columns if _has_bounds(c.data_type)]
    if not bounded:
        return
    aggregates = []
    for column in bounded:
        ref = exp.column(column.name, quoted=True)
        aggregates += [exp.func("min", ref), exp.func("max", ref)]
    try:
        row = session.fetchall(exp.select(*aggregates).from_(reference.copy()))[0]
    except (QueryTimeout, QueryError):
        return
    values = iter(row)
    for column in bounded:
        profiles[column.name]["min"], profiles[column.name]["max"] = (
            json_safe(next(values)),
            json_safe(next(values)),
        )


def _shorten(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
