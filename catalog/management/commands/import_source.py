"""python manage.py import_source NAME PATH|URL [--kind K] [--no-profile]: register or re-sync a source."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import servers
from catalog.execution import QueryError
from catalog.models import Column, DataSource, Relationship
from catalog.snapshots import SourceError
from catalog.sync import import_source


class Command(BaseCommand):
    help = (
        "Import a DuckDB/SQLite/CSV/Parquet file, a folder, or a PostgreSQL or MySQL/MariaDB database as a "
        "data source; running it again re-syncs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The source's name (a slug), e.g. 'demo'.")
        parser.add_argument(
            "path",
            help="The file or folder to import, or postgresql://user@host:5432/db?schema=public "
            "or mysql://user@host:3306/db (password_env=VAR or password_file=PATH name the password; one "
            "written in the URL is moved to a file only you can read).",
        )
        parser.add_argument(
            "--kind", choices=DataSource.Kind.values, help="Skip guessing the kind from the path."
        )
        parser.add_argument("--no-profile", action="store_true", help="Do not profile column values.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            source = import_source(
                options["name"], options["path"], options["kind"], profile=not options["no_profile"]
            )
        except (ValueError, ValidationError, SourceError, QueryError) as error:
            raise CommandError(str(error)) from error
        tables = source.tables.count()
        columns = Column.objects.filter(table__source=source).count()
        declared = Relationship.objects.filter(from_column__table__source=source, inferred=False).count()
        inferred = Relationship.objects.filter(from_column__table__source=source, inferred=True).count()
        where = servers.describe(source) if source.is_server else source.path
        self.stdout.write(
            f"Source '{source.name}' ({source.get_kind_display()}, {where}): {tables} tables, "
            f"{columns} columns, {declared} declared + {inferred} inferred relationships "
            f"in {time.perf_counter() - started:.2f} s."
        )
