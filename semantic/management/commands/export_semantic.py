from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from semantic.yaml_io import SemanticImportError, dump_yaml, export_semantic


class Command(BaseCommand):
    help = "Write the semantic layer (metrics, dimensions, statements) as YAML."

    def add_arguments(self, parser):
        parser.add_argument("--source", help="Only this source (default: all sources and global statements).")
        parser.add_argument("--out", type=Path, help="File to write (default: standard output).")

    def handle(self, *args, source=None, out=None, **options):
        try:
            text = dump_yaml(export_semantic(source))
        except SemanticImportError as error:
            raise CommandError(str(error)) from error
        if out:
            out.write_text(text)
            self.stderr.write(f"Wrote {out}")
        else:
            self.stdout.write(text, ending="")
