"""Read a source's structure (tables, columns, keys) and its data profile, as plain dataclasses.

Nothing here writes to Django; ``catalog.sync`` turns these into catalog rows. Everything reads through
``catalog.execution.open_connection`` (the same locked-down, read-only connection queries use), except the
declared keys of SQLite files, which come from SQLite itself opened read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from catalog.execution import ATTACHED_AS, json_safe, open_connection, table_reference
from catalog.models import DataSource
from catalog.snapshots import open_sqlite_readonly, sqlite_columns, sqlite_tables

MAX_DISTINCT_VALUES = 50
MAX_VALUE_CHARS = 80


@dataclass
class ColumnInfo:
    name: str
    data_type: str
    ordinal: int
    nullable: bool = True
    primary_key: bool = False
    unique: bool = False


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    row_count: int | None = None

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


def introspect(source: DataSource) -> SourceSchema:
    """Tables (with row counts), columns and declared keys of a source."""
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
        table.row_count = int(conn.execute(count.sql("duckdb")).fetchone()[0])
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


# --- Profiling -----------------------------------------------------------------------------------

NUMERIC_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "REAL",
)
TEMPORAL_PREFIXES = ("DATE", "TIMESTAMP", "TIME")
TEXT_PREFIXES = ("VARCHAR", "ENUM")


def is_numeric(data_type: str) -> bool:
    return data_type.upper().startswith(NUMERIC_PREFIXES)


def is_temporal(data_type: str) -> bool:
    return data_type.upper().startswith(TEMPORAL_PREFIXES)


def is_text(data_type: str) -> bool:
    return data_type.upper().startswith(TEXT_PREFIXES)


def profile_table(conn: duckdb.DuckDBPyConnection, table: TableInfo) -> dict[str, dict[str, Any]]:
    """Per column: distinct_count and null_count; min/max for numbers and dates; the sorted distinct
    values of text columns with at most MAX_DISTINCT_VALUES of them. Two scans of the table in all."""
    source = table_reference(table.name)
    stats: list[exp.Expression] = []
    for column in table.columns:
        ref = exp.column(column.name, quoted=True)
        stats += [exp.func("count", exp.Distinct(expressions=[ref])), exp.func("count", ref)]
        if is_numeric(column.data_type) or is_temporal(column.data_type):
            stats += [exp.func("min", ref), exp.func("max", ref)]
    row = conn.execute(
        exp.select(exp.func("count", exp.Star()), *stats).from_(source).sql("duckdb")
    ).fetchone()
    total, values = row[0], iter(row[1:])
    profiles: dict[str, dict[str, Any]] = {}
    for column in table.columns:
        distinct, non_null = next(values), next(values)
        profile: dict[str, Any] = {"distinct_count": distinct, "null_count": total - non_null}
        if is_numeric(column.data_type) or is_temporal(column.data_type):
            profile["min"], profile["max"] = json_safe(next(values)), json_safe(next(values))
        profiles[column.name] = profile
    low_cardinality = [
        c
        for c in table.columns
        if is_text(c.data_type) and 0 < profiles[c.name]["distinct_count"] <= MAX_DISTINCT_VALUES
    ]
    if low_cardinality:
        lists = [
            exp.ArrayAgg(
                this=exp.Order(
                    this=exp.Distinct(expressions=[exp.column(c.name, quoted=True)]),
                    expressions=[exp.Ordered(this=exp.column(c.name, quoted=True))],
                )
            )
            for c in low_cardinality
        ]
        lists_row = conn.execute(exp.select(*lists).from_(source).sql("duckdb")).fetchone()
        for column, distinct_values in zip(low_cardinality, lists_row, strict=True):
            profiles[column.name]["distinct_values"] = [
                _shorten(value) for value in (distinct_values or []) if value is not None
            ]
    return profiles


def _shorten(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
