"""Bring a source's catalog rows in line with its files or server: import, re-sync, relationships, profiling.

Re-syncing keeps what people wrote: table and column descriptions, synonyms, enabled flags and
primary-key flags set by hand on tables that declare none. Columns and tables that are gone are removed.
A server's table and column comments become descriptions where none was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone
from sqlglot import exp

from catalog import servers
from catalog.column_types import is_number, is_text
from catalog.execution import (
    DuckDBSession,
    QueryError,
    QueryTimeout,
    Session,
    database_file,
    interrupted_on_cancel,
    open_session,
)
from catalog.introspection import (
    ColumnInfo,
    SourceSchema,
    TableInfo,
    introspect,
    profile_table,
    profile_timeout,
)
from catalog.models import Column, DataSource, Relationship, Table
from catalog.snapshots import CSV_SUFFIXES, PARQUET_SUFFIXES, SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at byte offset 8 of a DuckDB database file


@dataclass
class SyncReport:
    tables_added: list[str] = field(default_factory=list)
    tables_removed: list[str] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    tables: int = 0
    columns: int = 0
    relationships_declared: int = 0
    relationships_inferred: int = 0
    elapsed_ms: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.tables} tables (+{len(self.tables_added)} -{len(self.tables_removed)}), "
            f"{self.columns} columns (+{len(self.columns_added)} -{len(self.columns_removed)}), "
            f"{self.relationships_declared} declared and {self.relationships_inferred} inferred relationships, "
            f"in {self.elapsed_ms:.0f} ms"
        )


@dataclass
class ProfileReport:
    tables: int = 0
    columns: int = 0
    elapsed_ms: float = 0.0
    # Tables whose profiling stopped at the time limit or failed (server sources): name -> why.
    skipped: dict[str, str] = field(default_factory=dict)


def guess_kind(path: Path) -> str:
    """The source kind from a path: a folder, a file suffix, or the file's first bytes."""
    if path.is_dir():
        return DataSource.Kind.FOLDER
    if not path.is_file():
        raise ValueError(f"Path {path} does not exist.")
    lower = path.name.lower()
    if lower.endswith(CSV_SUFFIXES):
        return DataSource.Kind.CSV
    if lower.endswith(PARQUET_SUFFIXES):
        return DataSource.Kind.PARQUET
    with path.open("rb") as handle:
        header = handle.read(16)
    if header.startswith(SQLITE_MAGIC):
        return DataSource.Kind.SQLITE
    if header[8:12] == DUCKDB_MAGIC:
        return DataSource.Kind.DUCKDB
    raise ValueError(
        f"Cannot tell what kind of source {path} is; pass a kind ({', '.join(DataSource.Kind.values)})."
    )


# progress(step, done, total): "copy" (reading the files into DuckDB), "tables", then "profile" per table.
Progress = Callable[[str, int, int], None]


def import_source(
    name: str,
    path: str | Path,
    kind: str | None = None,
    *,
    profile: bool = True,
    progress: Progress | None = None,
) -> DataSource:
    """Register (or update) a source under ``name`` and sync its tables; profile it unless told not to.

    ``path`` is a file or folder, or a server URL (``postgresql://...``, ``mysql://...``; see
    ``servers.parse_url``). A password in the URL goes to a file only this user can read, which the
    source names; it is never stored in the database."""
    progress = progress or (lambda step, done, total: None)
    if servers.is_server_url(str(path)):
        return _import_server(name, str(path), profile=profile)
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise ValueError(f"Path {resolved} does not exist.")
    kind = kind or guess_kind(resolved)
    if kind not in DataSource.Kind.values:
        raise ValueError(
            f"Unknown source kind '{kind}'; expected one of {', '.join(DataSource.Kind.values)}."
        )
    _check_name(name)
    source, _ = DataSource.objects.update_or_create(name=name, defaults={"path": str(resolved), "kind": kind})
    progress("copy", 0, 1)
    try:
        database_file(source)  # a file other than DuckDB is read into its snapshot here, once
    except SourceError as error:  # as open_connection reports it
        raise QueryError(str(error)) from error
    progress("tables", 0, 1)
    sync_source(source)
    if profile:
        profile_source(source, progress=progress)
    return source


def _check_name(name: str) -> None:
    try:
        validate_slug(name)
    except ValidationError as error:
        raise ValueError(f"Source name '{name}' must be a slug (letters, digits, '-' and '_').") from error


def _import_server(name: str, url: str, *, profile: bool) -> DataSource:
    _check_name(name)
    settings = servers.parse_url(url)
    if settings.password is not None:
        if settings.password_env or settings.password_file:
            raise ValueError("Give the password in the URL or name where it is kept, not both.")
        settings.password_file = str(servers.store_password(name, settings.password))
    source, _ = DataSource.objects.update_or_create(name=name, defaults=settings.model_fields())
    sync_source(source)
    if profile:
        profile_source(source)
    return source


def sync_source(source: DataSource) -> SyncReport:
    """Make the source's tables, columns and relationships match its files."""
    started = time.perf_counter()
    schema = introspect(source)
    _mark_inferred_keys(source, schema)
    report = SyncReport()
    with transaction.atomic():
        existing = {t.name: t for t in source.tables.all()}
        for info in schema.tables:
            table = existing.pop(info.name, None)
            if table is None:
                table = Table.objects.create(source=source, name=info.name)
                report.tables_added.append(info.name)
            table.row_count = info.row_count
            table.description = table.description or info.description
            table.save(update_fields=["row_count", "description"])
            _sync_columns(table, info, report)
        for name, table in existing.items():
            table.delete()
            report.tables_removed.append(name)
        report.relationships_declared = _sync_declared(source, schema)
        report.relationships_inferred = _sync_inferred(source)
        source.last_synced_at = timezone.now()
        source.save(update_fields=["last_synced_at", "updated_at"])
    report.tables = len(schema.tables)
    report.columns = sum(len(t.columns) for t in schema.tables)
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report


def _sync_columns(table: Table, info: TableInfo, report: SyncReport) -> None:
    declares_key = any(c.primary_key for c in info.columns)
    existing = {c.name: c for c in table.columns.all()}
    for column_info in info.columns:
        column = existing.pop(column_info.name, None)
        if column is None:
            column = Column(table=table, name=column_info.name)
            report.columns_added.append(f"{table.name}.{column_info.name}")
        column.data_type = column_info.data_type
        column.ordinal = column_info.ordinal
        column.is_nullable = column_info.nullable
        column.description = column.description or column_info.description
        if declares_key or column_info.primary_key:
            column.is_primary_key = column_info.primary_key
        column.save()
    for name, column in existing.items():
        column.delete()
        report.columns_removed.append(f"{table.name}.{name}")


def _column(source: DataSource, table: str, column: str) -> Column | None:
    return Column.objects.filter(table__source=source, table__name=table, name=column).first()


def _sync_declared(source: DataSource, schema: SourceSchema) -> int:
    """Declared single-column foreign keys become relationships (composite keys are skipped)."""
    count = 0
    for key in schema.foreign_keys:
        if len(key.columns) != 1 or len(key.referenced_columns) != 1:
            continue
        from_column = _column(source, key.table, key.columns[0])
        to_column = _column(source, key.referenced_table, key.referenced_columns[0])
        if from_column is None or to_column is None:
            continue
        from_table = schema.table(key.table)
        from_info = from_table.column(key.columns[0]) if from_table is not None else None
        assert from_info is not None  # a declared key's column is a column of its table
        cardinality = (
            Relationship.Cardinality.ONE_TO_ONE if from_info.unique else Relationship.Cardinality.MANY_TO_ONE
        )
        Relationship.objects.update_or_create(
            from_column=from_column,
            to_column=to_column,
            defaults={"inferred": False, "cardinality": cardinality},
        )
        count += 1
    return count


def singular(word: str) -> str:
    """Good enough for table names: categories→category, addresses→address, orders→order."""
    lower = word.lower()
    if lower.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith("ss"):
        return word[:-1]
    return word


def _compatible(a: str, b: str) -> bool:
    return (is_number(a) and is_number(b)) or (is_text(a) and is_text(b)) or a == b


def _mark_inferred_keys(source: DataSource, schema: SourceSchema) -> None:
    """For tables without a declared key (CSV, Parquet, plain SQLite tables) a column named ``id`` or
    ``<table>_id`` whose values are unique and never null is taken as the key, checked on the data."""
    candidates: list[tuple[TableInfo, ColumnInfo]] = []
    for table in schema.tables:
        if any(c.primary_key or c.unique for c in table.columns):
            continue
        base = table.name.rpartition(".")[2].lower()
        names = {"id", f"{base}_id", f"{singular(base)}_id"}
        candidates += [(table, c) for c in table.columns if c.name.lower() in names]
    if not candidates:
        return
    with open_session(source, profile_timeout()) as session:
        for table, column in candidates:
            column.unique = _is_unique(session, table.name, column.name, allow_nulls=False)
    for table, column in candidates:
        # Only one inferred key per table, and only when it is unambiguous.
        if column.unique and sum(c.unique for c in table.columns) == 1:
            column.primary_key = True


def _sync_inferred(source: DataSource) -> int:
    """Relationships guessed from names: ``orders.customer_id → customers.customer_id`` when the target is
    its table's single-column key, or ``orders.customer_id → customers.id``. Stale guesses are removed.
    Cardinality comes from the data: one-to-one when the referencing values are unique."""
    columns = list(Column.objects.filter(table__source=source).select_related("table"))
    keys_by_table: dict[int, list[Column]] = {}
    for column in columns:
        if column.is_primary_key:
            keys_by_table.setdefault(column.table_id, []).append(column)
    single_keys = [cols[0] for cols in keys_by_table.values() if len(cols) == 1]
    declared = set(
        Relationship.objects.filter(from_column__table__source=source, inferred=False).values_list(
            "from_column_id", "to_column_id"
        )
    )
    declared_from = {from_id for from_id, _ in declared}
    matches: list[tuple[Column, Column]] = []
    for column in columns:
        if column.id in declared_from or not column.name.lower().endswith("id"):
            continue
        for key in single_keys:
            if key.table_id == column.table_id or not _compatible(column.data_type, key.data_type):
                continue
            table_base = key.table.name.rpartition(".")[2].lower()
            same_name = column.name.lower() == key.name.lower() and key.name.lower() != "id"
            names_table = key.name.lower() == "id" and column.name.lower() in {
                f"{table_base}_id",
                f"{singular(table_base)}_id",
            }
            if not (same_name or names_table) or {(column.id, key.id), (key.id, column.id)} & declared:
                continue
            # Two keys with the same name match both ways: keep one direction of the pair.
            if column.is_primary_key and same_name and column.table.name > key.table.name:
                continue
            matches.append((column, key))
    unique = _unique_columns(source, [column for column, _ in matches])
    kept: set[int] = set()
    for column, key in matches:
        cardinality = (
            Relationship.Cardinality.ONE_TO_ONE
            if column.id in unique
            else Relationship.Cardinality.MANY_TO_ONE
        )
        relationship, _ = Relationship.objects.update_or_create(
            from_column=column, to_column=key, defaults={"inferred": True, "cardinality": cardinality}
        )
        kept.add(relationship.id)
    stale = Relationship.objects.filter(from_column__table__source=source, inferred=True).exclude(id__in=kept)
    stale.delete()
    return len(kept)


def _unique_columns(source: DataSource, columns: list[Column]) -> set[int]:
    """Ids of the columns whose non-null values are all different (and that have some)."""
    if not columns:
        return set()
    unique: set[int] = set()
    with open_session(source, profile_timeout()) as session:
        for column in columns:
            if _is_unique(session, column.table.name, column.name, allow_nulls=True):
                unique.add(column.id)
    return unique


def _is_unique(session: Session, table: str, column: str, *, allow_nulls: bool) -> bool:
    """Whether the column's values are all different (a server table too big to check in time: no)."""
    ref = exp.column(column, quoted=True)
    query = exp.select(
        exp.func("count", exp.Star()),
        exp.func("count", exp.Distinct(expressions=[ref])),
        exp.func("count", ref),
    ).from_(session.table(table))
    try:
        total, distinct, non_null = session.fetchall(query)[0]
    except QueryTimeout:
        return False
    return bool(non_null) and distinct == non_null and (allow_nulls or non_null == total)


def profile_source(source: DataSource, progress: Progress | None = None) -> ProfileReport:
    """Profile every table of the source into ``Column.profile``; see ``introspection.profile_table``."""
    started = time.perf_counter()
    report = ProfileReport()
    tables = list(source.tables.prefetch_related("columns"))
    with open_session(source, profile_timeout()) as session:
        # A profile run inside a job (the job's cancel token is current) stops when the job is aborted.
        cancellable = (
            interrupted_on_cancel(session.conn) if isinstance(session, DuckDBSession) else nullcontext()
        )
        with cancellable:
            for index, table in enumerate(tables):
                if progress is not None:
                    progress("profile", index, len(tables))
                columns = list(table.columns.all())
                info = TableInfo(
                    name=table.name,
                    columns=[ColumnInfo(c.name, c.data_type, c.ordinal) for c in columns],
                    row_count=table.row_count,
                )
                try:
                    profiles = profile_table(session, info)
                except (QueryTimeout, QueryError) as error:
                    if not source.is_server:
                        raise
                    # A server table too big or too odd to profile in time keeps no profile; the rest go on.
                    report.skipped[table.name] = str(error)
                    profiles = {}
                for column in columns:
                    column.profile = profiles.get(column.name, {})
                Column.objects.bulk_update(columns, ["profile"])
                report.tables += 1
                report.columns += len(columns)
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report
