"""Server-side rendering of chart specs (vl-convert) and CSV export of results."""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

import vl_convert as vlc

# A spec sized to its container has no width of its own on the server; give it one.
SERVER_WIDTH = 640
_SCHEMA_VERSION = re.compile(r"/vega-lite/v(\d+)(?:\.(\d+))?")


def _vega_lite_version(spec: dict[str, Any]) -> str:
    """The vl-convert bundle matching the spec's $schema (v5.20.1 → "5.20"), else the newest one."""
    available = vlc.get_vegalite_versions()
    match = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
    if not match:
        return available[-1]
    major, minor = match.group(1), match.group(2)
    if minor is not None and f"{major}.{minor}" in available:
        return f"{major}.{minor}"
    same_major = [v for v in available if v.split(".")[0] == major]
    return same_major[-1] if same_major else available[-1]


def _prepared(spec: Any) -> tuple[dict[str, Any], str]:
    if not isinstance(spec, dict) or not spec:
        raise ValueError("spec must be a non-empty Vega-Lite JSON object (dict)")
    if "$schema" in spec and "vega-lite" not in str(spec["$schema"]):
        raise ValueError(f"spec $schema is not Vega-Lite: {spec['$schema']!r}")
    version = _vega_lite_version(spec)
    if spec.get("width") == "container":
        spec = copy.copy(spec)
        spec["width"] = SERVER_WIDTH
    return spec, version


def render_svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document."""
    spec, version = _prepared(spec)
    try:
        return vlc.vegalite_to_svg(spec, vl_version=version)
    except ValueError as error:  # vl-convert reports bad specs as ValueError with the Vega message
        raise ValueError(f"chart spec does not render: {error}") from error


def render_png(spec: dict[str, Any], scale: float = 1) -> bytes:
    """The chart as a PNG image; ``scale`` 2 gives a sharp image on high-density screens."""
    if not 0 < scale <= 4:
        raise ValueError(f"scale must be in (0, 4], got {scale}")
    spec, version = _prepared(spec)
    try:
        return vlc.vegalite_to_png(spec, vl_version=version, scale=scale)
    except ValueError as error:
        raise ValueError(f"chart spec does not render: {error}") from error


def data_to_csv(data: dict[str, Any]) -> str:
    """The result as CSV text: a header of column names, then one line per row (NULL as empty)."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("columns"), list)
        or not isinstance(data.get("rows"), list)
    ):
        raise ValueError("data must be a dict with 'columns' and 'rows' lists")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(data["columns"])
    for number, row in enumerate(data["rows"]):
        if len(row) != len(data["columns"]):
            raise ValueError(f"data row {number} has {len(row)} values, expected {len(data['columns'])}")
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()
