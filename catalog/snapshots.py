"""Read-only DuckDB snapshots of sources that are not DuckDB files (SQLite, CSV, Parquet, folders).

Why snapshots: the locked-down query connection runs with ``enable_external_access=false``, and with that
switched off DuckDB refuses to read files even through views created beforehand; and DuckDB's ``sqlite``
extension is not bundled (``INSTALL sqlite`` needs a download, which an offline install cannot do).
So each such source is copied once into a DuckDB file under the cache folder and that file is ATTACHed
READ_ONLY like any DuckDB source. The snapshot's name carries a fingerprint of the source files (path,
size, mtime), so a changed file gets a fresh snapshot on the next connection. The source files are only
ever opened for reading (SQLite through ``sqlite3`` with ``mode=ro``).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

import duckdb
import numpy as np
from django.conf import settings
from sqlglot import exp

from catalog.models import DataSource

CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
STAGING_TABLE = "__sqlite_staging"
# Bump when the way snapshots are built changes, so existing ones are rebuilt.
SNAPSHOT_FORMAT = 1
CHUNK_ROWS = 50_000


class SourceError(Exception):
    """The source's file or folder is missing or cannot be read."""


def cache_dir() -> Path:
    folder = Path(settings.CATALOG_CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def table_name_for_file(path: Path) -> str:
    """``orders.csv.gz`` → ``orders``: tables from files are addressed by the file's bare name."""
    name = path.name
    for suffix in CSV_SUFFIXES + PARQUET_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def data_files(source: DataSource) -> list[Path]:
    """The files a file-based source reads, sorted; raises SourceError when there are none."""
    path = Path(source.path)
    if source.kind == DataSource.Kind.FOLDER:
        if not path.is_dir():
            raise SourceError(f"Folder {path} of source '{source.name}' does not exist.")
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)
        )
        if not files:
            raise SourceError(f"Folder {path} of source '{source.name}' holds no CSV or Parquet files.")
        return files
    if not path.is_file():
        raise SourceError(f"File {path} of source '{source.name}' does not exist.")
    return [path]


def _fingerprint(source: DataSource, files: list[Path]) -> str:
    digest = hashlib.sha256(f"{SNAPSHOT_FORMAT}\0{source.kind}".encode())
    # A SQLite file in WAL mode changes through its -wal file while the main file stays the same.
    watched = [*files, *(Path(f"{file}-wal") for file in files if Path(f"{file}-wal").exists())]
    for file in watched:
        stat = file.stat()
        digest.update(f"\0{file.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def snapshot_path(source: DataSource) -> Path:
    """The DuckDB file to attach for a non-DuckDB source, building it if the source changed."""
    files = data_files(source)
    # "." cannot occur in a slug, so one source's glob below never matches another's snapshots.
    target = cache_dir() / f"{source.name}.{_fingerprint(source, files)}.duckdb"
    if target.exists():
        return target
    # Build under a temporary name and rename: concurrent builders never see a half-written file.
    handle, tmp_name = tempfile.mkstemp(prefix=f".{source.name}-", suffix=".duckdb", dir=cache_dir())
    os.close(handle)
    os.unlink(tmp_name)  # DuckDB wants to create the file itself
    try:
        with duckdb.connect(tmp_name) as conn:
            if source.kind == DataSource.Kind.SQLITE:
                copy_sqlite(Path(source.path), conn)
            else:
                for file in files:
                    _copy_file(file, table_name_for_file(file), conn)
        os.replace(tmp_name, target)
    except (duckdb.Error, sqlite3.Error) as error:
        raise SourceError(f"Could not read source '{source.name}' ({source.path}): {error}") from error
    finally:
        for leftover in (tmp_name, tmp_name + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    for old in cache_dir().glob(f"{source.name}.*.duckdb"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def _copy_file(file: Path, table: str, conn: duckdb.DuckDBPyConnection) -> None:
    reader = "read_parquet" if file.name.lower().endswith(PARQUET_SUFFIXES) else "read_csv_auto"
    scan = exp.Table(this=exp.Anonymous(this=reader, expressions=[exp.Literal.string(str(file))]))
    create = exp.Create(
        kind="TABLE",
        this=exp.Table(this=exp.to_identifier(table, quoted=True)),
        expression=exp.select("*").from_(scan),
    )
    conn.execute(create.sql("duckdb"))


def open_sqlite_readonly(path: Path) -> sqlite3.Connection:
    """A sqlite3 connection that cannot write: ``mode=ro`` in a URI (the file's path is URI-quoted)."""
    if not path.is_file():
        raise SourceError(f"SQLite file {path} does not exist.")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def sqlite_type_to_duckdb(declared: str) -> str | None:
    """SQLite's type affinity rules (sqlite.org/datatype3.html) mapped to a DuckDB type; None keeps text.

    SQLite has no boolean, date or time types (such values are stored as text or numbers as written),
    so those stay text here too: casting 'T' to true or '2010-1-1' to a DATE would change the values."""
    upper = declared.upper()
    if "INT" in upper:
        return "BIGINT"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT", "BOOL", "DATE", "TIME")):
        return None
    if any(word in upper for word in ("REAL", "FLOA", "DOUB", "DEC", "NUM")):
        return "DOUBLE"
    return None


def sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [row[0] for row in rows]


def sqlite_columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int, bool]]:
    """(name, declared type, primary-key position or 0, not null) per column, in order."""
    rows = conn.execute('SELECT name, type, pk, "notnull" FROM pragma_table_info(?) ORDER BY cid', (table,))
    return [(name, declared or "", pk, bool(notnull)) for name, declared, pk, notnull in rows]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def copy_sqlite(path: Path, target: duckdb.DuckDBPyConnection) -> None:
    """Copy each SQLite table: stage its values as text (in chunks, so memory stays bounded), then cast
    the columns whose every value fits the declared type. SQLite is dynamically typed (an INTEGER column
    may hold 'n/a' or 3.5), so a column keeps text when any value would not survive the cast unchanged."""
    source = open_sqlite_readonly(path)
    try:
        for table in sqlite_tables(source):
            declared = [(row[0], row[1]) for row in sqlite_columns(source, table)]
            staging = exp.Table(this=exp.to_identifier(STAGING_TABLE, quoted=True))
            target.execute(
                exp.Create(
                    kind="TABLE",
                    this=exp.Schema(
                        this=staging,
                        expressions=[
                            exp.ColumnDef(
                                this=exp.to_identifier(name, quoted=True), kind=exp.DataType.build("TEXT")
                            )
                            for name, _ in declared
                        ],
                    ),
                ).sql("duckdb")
            )
            cursor = source.execute(
                exp.select("*").from_(exp.Table(this=exp.to_identifier(table))).sql("sqlite")
            )
            while rows := cursor.fetchmany(CHUNK_ROWS):
                chunk = {
                    f"c{i}": np.array([_text(row[i]) for row in rows], dtype=object)
                    for i in range(len(declared))
                }
                target.register("sqlite_chunk", chunk)
                target.execute(exp.insert(exp.select("*").from_("sqlite_chunk"), staging).sql("duckdb"))
                target.unregister("sqlite_chunk")
            selects = []
            for name, declared_type in declared:
                column = exp.column(name, quoted=True)
                duck_type = sqlite_type_to_duckdb(declared_type)
                if duck_type and _casts_cleanly(target, staging, column, duck_type):
                    selects.append(exp.alias_(exp.cast(column, duck_type), name, quoted=True))
                else:
                    selects.append(exp.alias_(column, name, quoted=True))
            create = exp.Create(
                kind="TABLE",
                this=exp.Table(this=exp.to_identifier(table, quoted=True)),
                expression=exp.select(*selects).from_(staging),
            )
            target.execute(create.sql("duckdb"))
            target.execute(exp.Drop(kind="TABLE", tables=[staging]).sql("duckdb"))
    finally:
        source.close()


def _casts_cleanly(
    conn: duckdb.DuckDBPyConnection, staging: exp.Table, column: exp.Column, duck_type: str
) -> bool:
    """Every non-null value casts; integers must also read back as the same text (DuckDB rounds '3.5')."""
    converted = exp.TryCast(this=column, to=exp.DataType.build(duck_type))
    lost: exp.Expr = converted.is_(exp.null())
    if duck_type == "BIGINT":
        lost = exp.or_(lost, exp.NEQ(this=exp.cast(converted, "VARCHAR"), expression=column))
    failing = exp.and_(column.is_(exp.null()).not_(), lost)
    query = exp.select(exp.func("count", exp.Star())).from_(staging).where(failing)
    (count,) = conn.execute(query.sql("duckdb")).fetchone() or (None,)
    return count == 0
