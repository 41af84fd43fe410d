"""A query result as the execute stage hands it to the presentation, for the presentation's tests."""

from __future__ import annotations

from typing import Any


def result(columns: list[str], types: list[str], rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {
        "columns": columns,
        "types": types,
        "rows": rows,
        "row_count": len(rows),
        "truncated": False,
        **extra,
    }
