"""The README's table of repairs, written from the registry: the order they run in and what each repairs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from . import BEFORE_GUARD, QUALIFIED, Repair

START = "<!-- repairs: written by `python manage.py document_repairs --write README.md` -->"
END = "<!-- repairs: end -->"


def summary(repair: Repair) -> str:
    """The first paragraph of the repair's docstring, on one line, in Markdown."""
    first = (inspect.getdoc(repair) or "").split("\n\n")[0]
    text = " ".join(first.split())
    return re.sub(r"``(.+?)``", r"`\1`", text).replace("|", "\\|")


def _table(repairs: tuple[Repair, ...]) -> list[str]:
    rows = ["| # | repair | what it repairs |", "| --- | --- | --- |"]
    seen: dict[str, int] = {}
    for number, repair in enumerate(repairs, 1):
        name = f"`{repair.__module__.rsplit('.', 1)[-1]}.{repair.__name__}`"
        if repair.__name__ in seen:
            rows.append(
                f"| {number} | {name} | again, as in {seen[repair.__name__]}, after the repairs between |"
            )
        else:
            seen[repair.__name__] = number
            rows.append(f"| {number} | {name} | {summary(repair)} |")
    return rows


def repairs_markdown() -> str:
    """The section between the README's markers: both lists, in the order the SQL path runs them."""
    lines = [
        START,
        "",
        "Before the guard (`BEFORE_GUARD`), on the draft as the model wrote it:",
        "",
        *_table(BEFORE_GUARD),
        "",
        "After the guard (`QUALIFIED`), on its SQL, where every column is `alias.column`:",
        "",
        *_table(QUALIFIED),
        "",
        END,
    ]
    return "\n".join(lines)


def section_of(text: str) -> str | None:
    """The README's current section between the markers, if it has them."""
    start, end = text.find(START), text.find(END)
    return text[start : end + len(END)] if start >= 0 and end > start else None


def write_readme(path: Path) -> bool:
    """Replace the section between the markers with the registry's; True when the file changed."""
    text = path.read_text()
    current = section_of(text)
    if current is None:
        raise ValueError(f"{path} has no {START!r} ... {END!r} section")
    updated = text.replace(current, repairs_markdown())
    if updated != text:
        path.write_text(updated)
    return updated != text
