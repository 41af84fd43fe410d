"""Print the table of SQL repairs from the registry, or write it into the README."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from analytics_chat.engine.repairs.docs import repairs_markdown, write_readme


class Command(BaseCommand):
    help = "Print the table of SQL repairs in the order the SQL path runs them, or write it into the README."

    def add_arguments(self, parser):
        parser.add_argument("--write", type=Path, metavar="README", help="replace the table in this file")

    def handle(self, *args, write: Path | None, **options):
        if write is None:
            self.stdout.write(repairs_markdown())
        else:
            changed = write_readme(write)
            self.stdout.write(f"{write}: {'updated' if changed else 'already up to date'}")
