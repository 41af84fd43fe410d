from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from semantic.demo import DEMO_FILE_NAME, load_demo


class Command(BaseCommand):
    help = "Build the demo retail DuckDB file (unless it exists) and register it as source 'demo' with its semantic model."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, help="Folder for demo.duckdb (default: the data folder).")
        parser.add_argument("--force", action="store_true", help="Rebuild the file even if it exists.")

    def handle(self, *args, path=None, force=False, **options):
        folder = path or settings.DATA_DIR
        source = load_demo(folder, force=force)
        tables = ", ".join(f"{t.name} ({t.row_count:,} rows)" for t in source.tables.all())
        self.stdout.write(
            self.style.SUCCESS(
                f"Source '{source.name}' at {Path(folder) / DEMO_FILE_NAME}: {tables}; "
                f"{source.metrics.count()} metrics, {source.dimensions.count()} dimensions, "
                f"{source.statements.count()} statements."
            )
        )
