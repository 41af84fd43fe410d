"""python manage.py load_sqlite URL FILE... [--source-prefix P] [--replace]: SQLite files into a server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import servers
from catalog.execution import QueryError
from catalog.loading import keep_refused_keys, load_sqlite
from catalog.snapshots import SourceError
from catalog.sync import import_source, profile_source, sync_source


class Command(BaseCommand):
    help = (
        "Copy SQLite files into a PostgreSQL database (one schema per file) or a MySQL/MariaDB server (one "
        "database per file), named after each file; with --source-prefix, register each as a source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "url",
            help="A login that may create schemas: postgresql://user@host:5432/database or mysql://user@host:3306/any",
        )
        parser.add_argument(
            "files", nargs="+", type=Path, help="SQLite files; each becomes <prefix><file stem>"
        )
        parser.add_argument("--schema-prefix", default="", help="Put before each schema or database name.")
        parser.add_argument(
            "--source-prefix",
            help="Register each as the source <prefix><file stem>, read through --read-url (default: url).",
        )
        parser.add_argument(
            "--read-url",
            help="The login the registered sources use (a read-only role), without the schema: the schema is "
            "set, and that login is granted reading it (USAGE and SELECT; SELECT, SHOW VIEW).",
        )
        parser.add_argument(
            "--replace", action="store_true", help="Drop a schema or database of the same name first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url, read_url = str(options["url"]), str(options["read_url"] or options["url"])
        try:
            settings = servers.parse_url(url)
            read_user = servers.parse_url(read_url).user
        except servers.ServerConfigError as error:
            raise CommandError(str(error)) from error
        reader = read_user if read_user and read_user != settings.user else None
        for path in options["files"]:
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
            started = time.perf_counter()
            schema = f"{options['schema_prefix']}{path.stem}"
            try:
                report = load_sqlite(url, path, schema, replace=bool(options["replace"]), reader=reader)
            except (ValueError, SourceError) as error:
                raise CommandError(f"{path.name}: {error}") from error
            line = (
                f"{path.name} -> {schema}: {report.tables} tables, {report.rows} rows, "
                f"{report.keys_added} keys"
            )
            if report.refused:
                line += f", {len(report.refused)} the server refused"
            if options["source_prefix"] is not None:
                name = f"{options['source_prefix']}{path.stem}"
                try:
                    source = import_source(name, _with_schema(read_url, settings.kind, schema), profile=False)
                    if keep_refused_keys(source, report):
                        sync_source(source)  # inferred relationships again, now beside the kept keys
                    profile_source(source)
                except (ValueError, QueryError, SourceError) as error:
                    raise CommandError(f"{name}: {error}") from error
                line += f"; source '{name}'"
            self.stdout.write(f"{line} in {time.perf_counter() - started:.1f} s")
            for entry in report.refused:
                self.stdout.write(
                    f"  kept in the catalog instead: {entry[0]} key {entry[1]}{tuple(entry[2])}: {entry[-1]}"
                )


def _with_schema(url: str, kind: str, schema: str) -> str:
    """The read URL pointed at the loaded schema (PostgreSQL) or database (MySQL)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if kind == "postgresql":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("schema="))
        query = f"{query}&schema={schema}" if query else f"schema={schema}"
        return urlunsplit(parts._replace(query=query))
    return urlunsplit(parts._replace(path=f"/{schema}"))
