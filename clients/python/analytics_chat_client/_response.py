"""ChatResponse: the service's answer, with its placeholders filled for a terminal."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\{(data|sql|chart_spec|semantic_context|catalog)\}")
MAX_CELL_WIDTH = 40


@dataclass
class ResultData:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ResultData:
        rows = raw.get("rows") or []
        return cls(
            columns=list(raw.get("columns") or []),
            types=list(raw.get("types") or []),
            rows=[list(row) for row in rows],
            row_count=int(raw.get("row_count", len(rows))),
            truncated=bool(raw.get("truncated", False)),
        )

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]

    def to_text(self, max_rows: int = 50) -> str:
        """A plain fixed-width table (numbers right-aligned) with a row-count line."""
        shown = self.rows[:max_rows]
        cells = [[_cell(value) for value in row] for row in shown]
        widths = [len(c) for c in self.columns]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        numeric = [
            all(isinstance(row[i], int | float) for row in shown if row[i] is not None)
            for i in range(len(self.columns))
        ]

        def line(values: list[str]) -> str:
            return "  ".join(
                v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=False)
            ).rstrip()

        out = [line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(row) for row in cells]
        total = self.row_count
        if len(shown) < total or self.truncated:
            out.append(f"({len(shown)} of {total} rows shown)")
        else:
            out.append(f"({total} row{'s' if total != 1 else ''})")
        return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"


@dataclass
class ChatResponse:
    """One answer. `raw` keeps the server's JSON as it came (save/load round-trips through it)."""

    response_uuid: str
    response: str
    status: str
    parent_uuid: str | None = None
    ask: str = ""
    is_new: bool = True
    timestamp: float | None = None
    error_info: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatResponse:
        if "response_uuid" not in raw:
            raise ValueError(f"not a ChatResponse (no response_uuid): keys {sorted(raw)[:10]}")
        return cls(
            response_uuid=raw["response_uuid"],
            response=raw.get("response") or "",
            status=raw.get("status") or "succeeded",
            parent_uuid=raw.get("parent_uuid"),
            ask=raw.get("ask") or "",
            is_new=bool(raw.get("is_new", True)),
            timestamp=raw.get("timestamp"),
            error_info=raw.get("error_info"),
            raw=raw,
        )

    # --- payloads ------------------------------------------------------------------------------
    @property
    def response_data(self) -> dict[str, Any]:
        return self.raw.get("response_data") or {}

    @property
    def data(self) -> ResultData | None:
        raw = self.response_data.get("data")
        return ResultData.from_dict(raw) if raw else None

    @property
    def sql(self) -> str | None:
        return self.response_data.get("sql")

    @property
    def chart_spec(self) -> dict[str, Any] | None:
        return self.response_data.get("chart_spec")

    @property
    def semantic_context(self) -> Any:
        return self.response_data.get("semantic_context")

    @property
    def catalog(self) -> Any:
        return self.response_data.get("catalog")

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def placeholders(self) -> list[str]:
        """Placeholders in the template, in order."""
        return PLACEHOLDER.findall(self.response)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __str__(self) -> str:
        return self.to_text()

    # --- rendering -------------------------------------------------------------------------------
    def save_chart(self, path: str | Path, scale: float = 1.0) -> Path:
        """Write the chart as .svg, .png or .json (the spec) by the path's suffix. SVG/PNG need vl-convert."""
        spec = self.chart_spec
        if not spec:
            raise ValueError(f"response {self.response_uuid} has no chart_spec")
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".json":
            target.write_text(json.dumps(spec, indent=2))
            return target
        try:
            import vl_convert
        except ImportError as exc:
            raise RuntimeError(
                "saving a chart as SVG or PNG needs vl-convert-python (pip install vl-convert-python)"
            ) from exc
        if suffix == ".svg":
            target.write_text(vl_convert.vegalite_to_svg(spec))
        elif suffix == ".png":
            target.write_bytes(vl_convert.vegalite_to_png(spec, scale=scale))
        else:
            raise ValueError(f"chart path must end in .svg, .png or .json, not {suffix or 'nothing'!r}")
        return target

    def to_text(self, chart_dir: str | Path | None = None, max_rows: int = 50) -> str:
        """The template with each placeholder filled for a terminal: a text table for {data}, the SQL,
        and for {chart_spec} the path of a chart image written to `chart_dir` (a temp folder by default)."""
        if self.status != "succeeded" and not self.response:
            info = self.error_info or {}
            return f"[{self.status}] {info.get('message', '')}".strip()

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "data":
                data = self.data
                return data.to_text(max_rows=max_rows) if data else ""
            if name == "sql":
                return _indent(self.sql) if self.sql else ""
            if name == "chart_spec":
                return self._chart_line(chart_dir) if self.chart_spec else ""
            value = self.response_data.get(name)
            return _outline(value) if value else ""

        return PLACEHOLDER.sub(fill, self.response).strip()

    def _chart_line(self, chart_dir: str | Path | None) -> str:
        folder = Path(chart_dir) if chart_dir else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        try:
            path = self.save_chart(folder / f"chart-{self.response_uuid}.png")
        except RuntimeError:
            spec = self.chart_spec or {}
            mark = spec.get("mark", {})
            mark_type = mark.get("type") if isinstance(mark, dict) else mark
            return f"[{mark_type or 'chart'} chart: install vl-convert-python to save it as an image]"
        return f"[chart saved to {path}]"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _outline(value: Any, depth: int = 0) -> str:
    """Nested lists as an indented outline; items with a name show 'name: description'."""
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                lines.append(f"{pad}- {key}:")
                lines.append(_outline(item, depth + 1))
            else:
                lines.append(f"{pad}- {key}: {item}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and "name" in item:
                rest = {k: v for k, v in item.items() if k not in {"name", "description"}}
                description = f": {item['description']}" if item.get("description") else ""
                lines.append(f"{pad}- {item['name']}{description}")
                if rest:
                    lines.append(_outline(rest, depth + 1))
            elif isinstance(item, dict | list):
                lines.append(_outline(item, depth))
            else:
                lines.append(f"{pad}- {item}")
    else:
        lines.append(f"{pad}{value}")
    return "\n".join(line for line in lines if line)
