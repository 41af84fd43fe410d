"""Copy SQLite files into a PostgreSQL or MySQL/MariaDB server, one schema (or database) per file.

For trying server sources on known data: each file's tables are read the way a SQLite source is
(``snapshots.copy_sqlite``: a column keeps the declared number type only when every value fits it), so
the server holds the same values, under the same names, as the DuckDB copy of the file (on MySQL/MariaDB
in a binary collation, so text compares by case as there). Declared primary
keys, unique columns and foreign keys are added afterwards, each on its own; the ones the server cannot
hold (duplicates, a TEXT column referring to an INTEGER one) are reported, and ``register`` writes them
into the catalog by hand, as a person would in the admin. This is the one place that writes to a server;
it uses its own login (the URL's), never the read-only one of the queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from catalog import servers
from catalog.column_types import is_text
from catalog.models import Column, DataSource, Relationship
from catalog.snapshots import copy_sqlite, open_sqlite_readonly, sqlite_tables

INSERT_BATCH_ROWS = 500
# MySQL cannot index TEXT without a prefix length: text up to this long is stored as VARCHAR.
MYSQL_VARCHAR_CHARS = 255


@dataclass
class DeclaredKeys:
    """Keys a SQLite file declares: (table, [columns]) and (table, [columns], table, [columns])."""

    primary: list[tuple[str, list[str]]] = field(default_factory=list)
    unique: list[tuple[str, list[str]]] = field(default_factory=list)
    foreign: list[tuple[str, list[str], str, list[str]]] = field(default_factory=list)


@dataclass
class LoadReport:
    schema: str
    tables: int = 0
    rows: int = 0
    keys_added: int = 0
    # What the server refused, to be kept in the catalog instead: ("primary", table, columns, reason) and
    # ("foreign", table, columns, referenced table, referenced columns, reason).
    refused: list[tuple] = field(default_factory=list)


def declared_keys(path: Path) -> DeclaredKeys:
    """Primary keys, unique constraints and foreign keys from SQLite's own catalog (read-only)."""
    keys = DeclaredKeys()
    with closing(open_sqlite_readonly(path)) as conn:
        tables = sqlite_tables(conn)
        by_lower = {name.lower(): name for name in tables}
        for table in tables:
            columns = conn.execute(
                "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
            ).fetchall()
            if columns:
                keys.primary.append((table, [name for name, _ in columns]))
            for index_name, unique, origin in conn.execute(
                'SELECT name, "unique", origin FROM pragma_index_list(?)', (table,)
            ).fetchall():
                if unique and origin == "u":
                    names = [
                        r[0] for r in conn.execute("SELECT name FROM pragma_index_info(?)", (index_name,))
                    ]
                    keys.unique.append((table, names))
            grouped: dict[int, tuple[str, list[str], list[str | None]]] = {}
            for key_id, referenced, source_column, target_column in conn.execute(
                'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (table,)
            ).fetchall():
                entry = grouped.setdefault(key_id, (referenced, [], []))
                entry[1].append(source_column)
                entry[2].append(target_column)
            primary = {t: c for t, c in keys.primary}
            for referenced, source_columns, target_columns in grouped.values():
                target = by_lower.get(referenced.lower())
                if target is None:
                    continue
                named = [name for name in target_columns if name is not None]
                if len(named) != len(target_columns):  # a key that names no columns: the primary key
                    named = list(primary.get(target) or _primary_of(conn, target))
                keys.foreign.append((table, source_columns, target, named))
    return keys


def _primary_of(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = conn.execute("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,))
    return [name for (name,) in rows]


class _Writer:
    """A writable connection to the server of ``url``: executes trees, tells server errors apart."""

    def __init__(self, settings: servers.ServerSettings) -> None:
        self.settings = settings
        self.dialect = "postgres" if settings.kind == DataSource.Kind.POSTGRESQL else "mysql"
        password = settings.password
        if password is None and (settings.password_env or settings.password_file):
            password = servers.password_of(DataSource(name="loader", **_password_fields(settings)))
        port = settings.port or servers.DEFAULT_PORTS[settings.kind]
        if self.dialect == "postgres":
            import psycopg

            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
            self.conn: Any = psycopg.connect(
                host=settings.host,
                port=port,
                dbname=settings.database,
                user=settings.user or None,
                password=password,
                sslmode=settings.ssl_mode,
                autocommit=True,
            )
        else:
            import pymysql

            self.errors = (pymysql.Error,)
            self.conn = pymysql.connect(
                host=settings.host,
                port=port,
                user=settings.user or None,
                password=password or "",
                charset="utf8mb4",
                autocommit=True,
            )

    def run(self, statement: exp.Expr | str) -> None:
        text = statement if isinstance(statement, str) else statement.sql(self.dialect)
        if self.dialect == "postgres":
            self.conn.execute(text)
        else:
            with self.conn.cursor() as cursor:
                cursor.execute(text)

    def binary_collation(self) -> str:
        """MySQL/MariaDB: a collation that compares and orders text by code point, as SQLite and DuckDB do
        ('Haiti' <> 'haiti', 'a' <> 'a '), where the server's default one ignores case and trailing spaces."""
        with self.conn.cursor() as cursor:
            for name in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin"):  # MariaDB, MySQL 8: NO PAD
                cursor.execute("SHOW COLLATION LIKE %s", (name,))
                if cursor.fetchone():
                    return name
        return "utf8mb4_bin"

    def close(self) -> None:
        self.conn.close()


def _password_fields(settings: servers.ServerSettings) -> dict[str, Any]:
    return {"password_env": settings.password_env, "password_file": settings.password_file}


@contextmanager
def _writer(url: str) -> Iterator[_Writer]:
    writer = _Writer(servers.parse_url(url))
    try:
        yield writer
    finally:
        writer.close()


def _identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _table(schema: str, name: str) -> exp.Table:
    return exp.Table(this=_identifier(name), db=_identifier(schema))


def load_sqlite(
    url: str, path: Path, schema: str, *, replace: bool = False, reader: str | None = None
) -> LoadReport:
    """Copy one SQLite file into ``schema`` (PostgreSQL: a schema of the URL's database; MySQL: a database).

    Refuses an existing schema unless ``replace``, which drops it first. ``reader``: a login (the
    read-only one of README's "Give the service a read-only role") granted what that script grants on the
    new schema or database, which did not exist when it ran."""
    report = LoadReport(schema=schema)
    with _writer(url) as writer, duckdb.connect(":memory:") as staging:
        copy_sqlite(path, staging)
        schema_node = exp.Table(this=_identifier(schema))
        kind = "SCHEMA" if writer.dialect == "postgres" else "DATABASE"
        if replace:
            writer.run(
                exp.Drop(
                    tables=[schema_node.copy()], kind=kind, exists=True, cascade=writer.dialect == "postgres"
                )
            )
        create = exp.Create(this=schema_node.copy(), kind=kind).sql(writer.dialect)
        if writer.dialect == "mysql":  # text compares as on the DuckDB copy: by case, trailing spaces too
            create += f" CHARACTER SET utf8mb4 COLLATE {writer.binary_collation()}"
        try:
            writer.run(create)
        except writer.errors as error:
            raise ValueError(
                f"{kind.lower()} {schema} exists already (load with --replace): {error}"
            ) from error
        for table in [row[0] for row in staging.execute("SHOW TABLES").fetchall()]:
            report.rows += _copy_table(writer, staging, schema, table)
            report.tables += 1
        _add_keys(writer, schema, declared_keys(path), report)
        if reader:
            _grant_read(writer, schema, reader)
        for table in [row[0] for row in staging.execute("SHOW TABLES").fetchall()]:
            writer.run(
                f"ANALYZE {'' if writer.dialect == 'postgres' else 'TABLE '}{_table(schema, table).sql(writer.dialect)}"
            )
    return report


def _copy_table(writer: _Writer, staging: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    staged = exp.Table(this=_identifier(table))
    columns = staging.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    rows = staging.execute(exp.select("*").from_(staged).sql("duckdb")).fetchall()
    definitions = []
    for index, (name, duck_type) in enumerate(columns):
        data_type = exp.DataType.build(duck_type, dialect="duckdb")
        if writer.dialect == "mysql" and is_text(data_type):
            longest = max((len(row[index]) for row in rows if row[index] is not None), default=0)
            if longest <= MYSQL_VARCHAR_CHARS:
                data_type = exp.DataType.build(f"VARCHAR({MYSQL_VARCHAR_CHARS})")
        definitions.append(exp.ColumnDef(this=_identifier(name), kind=data_type))
    target = _table(schema, table)
    writer.run(exp.Create(kind="TABLE", this=exp.Schema(this=target, expressions=definitions)))
    names = [_identifier(name) for name, _ in columns]
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        batch = rows[start : start + INSERT_BATCH_ROWS]
        values = exp.Values(
            expressions=[exp.Tuple(expressions=[exp.convert(v) for v in row]) for row in batch]
        )
        writer.run(
            exp.Insert(
                this=exp.Schema(this=target.copy(), expressions=[n.copy() for n in names]), expression=values
            )
        )
    return len(rows)


def _add_keys(writer: _Writer, schema: str, keys: DeclaredKeys, report: LoadReport) -> None:
    """Each declared key on its own; what the server refuses is reported, not fatal."""

    def alter(table: str, constraint: exp.Expr) -> exp.Alter:
        return exp.Alter(
            this=_table(schema, table), kind="TABLE", actions=[exp.AddConstraint(expressions=[constraint])]
        )

    def columns(names: list[str]) -> list[exp.Identifier]:
        return [_identifier(name) for name in names]

    for table, names in keys.primary:
        try:
            writer.run(alter(table, exp.PrimaryKey(expressions=columns(names))))
            report.keys_added += 1
        except writer.errors as error:
            report.refused.append(("primary", table, names, _message(error)))
    for table, names in keys.unique:
        try:
            writer.run(alter(table, exp.UniqueColumnConstraint(this=exp.Schema(expressions=columns(names)))))
            report.keys_added += 1
        except writer.errors:
            pass  # a unique constraint only matters as the target of a foreign key, reported there
    if writer.dialect == "mysql":
        writer.run("SET SESSION foreign_key_checks = 0")  # like PostgreSQL's NOT VALID: rows are not checked
    for table, names, referenced, referenced_names in keys.foreign:
        reference = exp.Reference(
            this=exp.Schema(this=_table(schema, referenced), expressions=columns(referenced_names))
        )
        key = alter(table, exp.ForeignKey(expressions=columns(names), reference=reference))
        if writer.dialect == "postgres":
            key.set("not_valid", True)
        try:
            writer.run(key)
            report.keys_added += 1
        except writer.errors as error:
            report.refused.append(("foreign", table, names, referenced, referenced_names, _message(error)))


def _grant_read(writer: _Writer, schema: str, reader: str) -> None:
    """What docs/read-only-role/ grants, on one more schema (PostgreSQL) or database (MySQL/MariaDB)."""
    login = _identifier(reader).sql(writer.dialect)
    where = _identifier(schema).sql(writer.dialect)
    try:
        if writer.dialect == "postgres":
            writer.run(f"GRANT USAGE ON SCHEMA {where} TO {login}")
            writer.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {where} TO {login}")
            return
        with writer.conn.cursor() as cursor:  # the user's hosts, as CREATE USER named them
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (reader,))
            hosts = [row[0] for row in cursor.fetchall()]
        if not hosts:
            raise ValueError(f"no MySQL/MariaDB user {reader!r} to grant {schema} to (create it first)")
        for host in hosts:
            escaped = host.replace("'", "''")
            writer.run(f"GRANT SELECT, SHOW VIEW ON {where}.* TO {login}@'{escaped}'")
    except writer.errors as error:
        raise ValueError(f"cannot grant {reader} reading {schema}: {_message(error)}") from error


def _message(error: Exception) -> str:
    args: tuple[Any, ...] = getattr(error, "args", ())
    text = str(args[1]) if len(args) > 1 and isinstance(args[1], str) else str(error)
    return (text.strip().splitlines() or [text])[0]


def keep_refused_keys(source: DataSource, report: LoadReport) -> int:
    """Write the keys the server refused into the catalog: primary-key flags on tables the server gives
    none, and declared relationships for single-column foreign keys. Returns how many were kept."""
    kept = 0
    for entry in report.refused:
        if entry[0] == "primary":
            _, table, names, _reason = entry
            columns = Column.objects.filter(table__source=source, table__name=table)
            if columns.filter(is_primary_key=True).exists():
                continue
            kept += columns.filter(name__in=names).update(is_primary_key=True) > 0
        elif entry[0] == "foreign":
            _, table, names, referenced, referenced_names, _reason = entry
            if len(names) != 1 or len(referenced_names) != 1:
                continue
            source_column = Column.objects.filter(
                table__source=source, table__name=table, name=names[0]
            ).first()
            target = Column.objects.filter(
                table__source=source, table__name=referenced, name=referenced_names[0]
            ).first()
            if source_column is None or target is None:
                continue
            Relationship.objects.update_or_create(
                from_column=source_column, to_column=target, defaults={"inferred": False}
            )
            kept += 1
    return kept
