"""Outputs pinned in a JSON file before a refactor: ``AC_UPDATE_PINNED=1`` rewrites a case on purpose."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def assert_pinned(path: Path, case: str, found: Any) -> None:
    """``found`` equals the case pinned in ``path`` (or, with AC_UPDATE_PINNED set, becomes it)."""
    if os.environ.get("AC_UPDATE_PINNED"):
        pinned = json.loads(path.read_text()) if path.exists() else {}
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({**pinned, case: found}, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"pinned {case} written")
    assert found == json.loads(path.read_text())[case]
