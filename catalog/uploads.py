"""Bring your own data from the page: a CSV, Parquet, SQLite or DuckDB file is sniffed, staged, previewed,
and on confirmation imported as a source with ``catalog.sync.import_source``.

Files land in the data folder (``uploads/<source>/``) under a sanitised name, never executable. A file that
is too big, of another type, or unreadable is refused with a message naming the problem, and nothing of it
stays behind: not the file, not a snapshot, not a catalog row.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import stat
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from sqlglot import exp

from catalog.execution import QueryError, run_query, table_reference
from catalog.introspection import introspect
from catalog.models import DataSource
from catalog.snapshots import SourceError, cache_dir
from catalog.sync import SQLITE_MAGIC, Progress, import_source

PREVIEW_ROWS = 5
STAGED_FOR_SECONDS = 24 * 3600  # staged files nobody imported are removed after this
SUFFIX: dict[str, str] = {
    DataSource.Kind.CSV: ".csv",
    DataSource.Kind.PARQUET: ".parquet",
    DataSource.Kind.SQLITE: ".sqlite",
    DataSource.Kind.DUCKDB: ".duckdb",
}
CLAIMED_KINDS = {
    ".csv": DataSource.Kind.CSV, ".tsv": DataSource.Kind.CSV, ".txt": DataSource.Kind.CSV,
    ".parquet": DataSource.Kind.PARQUET, ".pq": DataSource.Kind.PARQUET,
    ".sqlite": DataSource.Kind.SQLITE, ".sqlite3": DataSource.Kind.SQLITE, ".db": DataSource.Kind.SQLITE,
    ".duckdb": DataSource.Kind.DUCKDB, ".ddb": DataSource.Kind.DUCKDB,
}  # fmt: skip
FILE_MODE = stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP  # 0o640: data, never a program


class UploadError(ValueError):
    """An upload or import that cannot go on; ``field`` is the request field it is about."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass
class StagedUpload:
    upload_id: str
    path: Path
    kind: str
    original_name: str

    @property
    def folder(self) -> Path:
        return self.path.parent


def max_upload_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


def uploads_dir() -> Path:
    return Path(settings.UPLOADS_DIR)


def staging_dir() -> Path:
    folder = uploads_dir() / ".staging"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sanitized_stem(filename: str) -> str:
    """A file name as a plain identifier-like stem: ``Sales 2024 (final).csv`` → ``sales_2024_final``.

    >>> sanitized_stem("../../etc/Sales 2024 (final).csv")
    'sales_2024_final'
    >>> sanitized_stem("ünïcode—name.parquet"), sanitized_stem(".hidden"), sanitized_stem("***")
    ('unicode_name', 'hidden', 'data')
    """
    name = Path(str(filename).replace("\\", "/")).name
    for suffix in sorted(CLAIMED_KINDS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    letters = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    ascii_name = "".join(c if c.isascii() else "_" for c in letters)
    stem = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:60]
    return stem or "data"


def suggested_source_name(filename: str) -> str:
    """A free source name (a slug) from the file name."""
    base = sanitized_stem(filename).replace("_", "-")[:50] or "data"
    name, counter = base, 2
    while DataSource.objects.filter(name=name).exists():
        name, counter = f"{base}-{counter}", counter + 1
    return name


def sniff(path: Path, filename: str) -> str:
    """The kind of the file from its bytes; the name's suffix may not claim another kind."""
    with path.open("rb") as handle:
        head = handle.read(65536)
        handle.seek(max(0, path.stat().st_size - 4))
        tail = handle.read(4)
    if not head:
        raise UploadError("file", "The file is empty.")
    if head.startswith(SQLITE_MAGIC):
        kind = DataSource.Kind.SQLITE
    elif head[8:12] == b"DUCK":
        kind = DataSource.Kind.DUCKDB
    elif head.startswith(b"PAR1") and tail == b"PAR1":
        kind = DataSource.Kind.PARQUET
    elif head.startswith(b"PK\x03\x04"):
        raise UploadError(
            "file", "This is a ZIP or an Excel workbook; save the sheet as CSV and upload that."
        )
    elif b"\x00" in head or head.startswith((b"\x7fELF", b"MZ", b"#!")):
        raise UploadError("file", "This is not a CSV, Parquet, SQLite or DuckDB file.")
    else:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # not just a character cut at the end of the sample
                raise UploadError("file", "This text file is not UTF-8; save it as UTF-8 CSV.") from error
        kind = DataSource.Kind.CSV
    suffix = Path(filename).suffix.lower()
    claimed = CLAIMED_KINDS.get(suffix)
    if suffix and claimed is None:
        raise UploadError(
            "file", f"Files named {suffix} are not supported: upload CSV, Parquet, SQLite or DuckDB."
        )
    if claimed is not None and claimed != kind:
        raise UploadError("file", f"The file is named {suffix} but its contents are {kind.label}.")
    return kind


def _remove_stale_staging() -> None:
    cutoff = time.time() - STAGED_FOR_SECONDS
    for folder in staging_dir().iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def stage(uploaded: Any) -> tuple[StagedUpload, dict[str, Any]]:
    """Keep an uploaded file (a Django UploadedFile) for import and return it with its preview."""
    size = getattr(uploaded, "size", None) or 0
    limit = max_upload_bytes()
    if size > limit:
        raise UploadError("file", f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.", 413)
    _remove_stale_staging()
    upload_id = secrets.token_hex(12)
    folder = staging_dir() / upload_id
    folder.mkdir(mode=0o750)
    incoming = folder / "incoming"
    try:
        with incoming.open("wb") as handle:
            for chunk in uploaded.chunks():
                handle.write(chunk)
        incoming.chmod(FILE_MODE)
        original = str(getattr(uploaded, "name", "") or "data")
        kind = sniff(incoming, original)
        path = folder / (sanitized_stem(original) + SUFFIX[kind])
        incoming.rename(path)
        staged = StagedUpload(upload_id, path, kind, original)
        (folder / "upload.json").write_text(json.dumps({"kind": kind, "original_name": original}))
        return staged, preview(staged)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def find_staged(upload_id: str) -> StagedUpload:
    if not re.fullmatch(r"[0-9a-f]{24}", upload_id or ""):
        raise UploadError("upload_id", "No such upload.", 404)
    folder = staging_dir() / upload_id
    meta = folder / "upload.json"
    if not meta.is_file():
        raise UploadError("upload_id", "No such upload (it was imported, discarded or has expired).", 404)
    info = json.loads(meta.read_text())
    path = next(p for p in folder.iterdir() if p.name not in ("upload.json",))
    return StagedUpload(upload_id, path, info["kind"], info["original_name"])


def discard(upload_id: str) -> None:
    shutil.rmtree(find_staged(upload_id).folder, ignore_errors=True)


def drop_snapshots(source_name: str) -> None:
    for snapshot in cache_dir().glob(f"{source_name}.*.duckdb"):
        snapshot.unlink(missing_ok=True)


def preview(staged: StagedUpload, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """Tables, their inferred column types, row counts and first rows, read the way the import reads them.

    An unsaved source whose name no slug can take ("~") is read through the same snapshot and
    locked-down connection as any source; its snapshot is removed afterwards."""
    probe = DataSource(name=f"~upload-{staged.upload_id}", kind=staged.kind, path=str(staged.path))
    try:
        schema = introspect(probe)
        tables = []
        for table in schema.tables:
            first = run_query(
                probe, exp.select("*").from_(table_reference(table.name)).sql("duckdb"), row_cap=rows
            )
            tables.append(
                {
                    "name": table.name,
                    "row_count": table.row_count,
                    "columns": [{"name": c.name, "type": c.data_type} for c in table.columns],
                    "rows": first.rows,
                }
            )
    except (QueryError, SourceError) as error:
        raise UploadError(
            "file", f"The file cannot be read as {DataSource.Kind(staged.kind).label}: {error}"
        ) from error
    finally:
        drop_snapshots(probe.name)
    if not tables:
        raise UploadError("file", "The file holds no tables.")
    return {
        "upload_id": staged.upload_id,
        "filename": staged.path.name,
        "original_name": staged.original_name,
        "kind": staged.kind,
        "size_bytes": staged.path.stat().st_size,
        "suggested_name": suggested_source_name(staged.original_name),
        "tables": tables,
    }


def validate_source_name(name: str) -> str:
    try:
        validate_slug(name)
    except ValidationError as error:
        raise UploadError("name", "Use letters, digits, '-' and '_' only.") from error
    if DataSource.objects.filter(name=name).exists():
        raise UploadError("name", f"A source named {name!r} exists already; choose another name.")
    return name


def import_upload(
    upload_id: str, name: str, description: str = "", progress: Progress | None = None
) -> DataSource:
    """Move a staged file into ``uploads/<name>/`` and import it; on any failure nothing stays behind."""
    staged = find_staged(upload_id)
    validate_source_name(name)
    target_folder = uploads_dir() / name
    if target_folder.exists():  # left by an import that never registered (no source has this name)
        shutil.rmtree(target_folder)
    target_folder.mkdir(parents=True, mode=0o750)
    target = target_folder / staged.path.name
    shutil.move(staged.path, target)
    target.chmod(FILE_MODE)
    shutil.rmtree(staged.folder, ignore_errors=True)
    try:
        source = import_source(name, target, staged.kind, progress=progress)
        if description:
            source.description = description
            source.save(update_fields=["description", "updated_at"])
    except BaseException:
        DataSource.objects.filter(name=name).delete()
        drop_snapshots(name)
        shutil.rmtree(target_folder, ignore_errors=True)
        raise
    return source
