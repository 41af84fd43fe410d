from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from semantic.yaml_io import SemanticImportError, import_semantic, load_yaml


class Command(BaseCommand):
    help = "Create or update metrics, dimensions and statements from a YAML file (matched by name)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Also delete rows of the file's sources that the file leaves out.",
        )

    def handle(self, *args, file, prune=False, **options):
        if not file.is_file():
            raise CommandError(f"File not found: {file}")
        try:
            counts = import_semantic(load_yaml(file.read_text()), prune=prune)
        except SemanticImportError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(", ".join(f"{count} {what}" for what, count in counts.items())))
