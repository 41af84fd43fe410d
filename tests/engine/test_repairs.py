"""The SQL repairs: every case of tests/engine/repair_cases/, every docstring example, the README's table.

A case file is named after the repair it exercises and holds blocks in the style of sqlglot's optimizer
fixtures: ``# title:``, ``# schema:`` (a file of repair_cases/schemas/) and an optional ``# question:``,
then the draft and the SQL the repair must turn it into, each ended by ``;``. Lines starting with ``--``
are comments. No database, no model.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import sqlglot

from analytics_chat.engine.linking import LinkedSchema, link_schema
from analytics_chat.engine.repairs import BEFORE_GUARD, QUALIFIED
from analytics_chat.engine.repairs.ddl import schema_view
from analytics_chat.engine.repairs.docs import repairs_markdown, section_of

CASES_DIR = Path(__file__).parent / "repair_cases"
README = Path(__file__).parents[2] / "README.md"
REPAIRS = {repair.__name__: repair for repair in (*BEFORE_GUARD, *QUALIFIED)}


@dataclass(frozen=True)
class Case:
    repair: str
    title: str
    schema: str
    question: str
    draft: str
    expected: str


def load_cases(path: Path) -> list[Case]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in text.split(";")]
    if statements[-1]:
        raise ValueError(f"{path.name}: the last statement has no closing ';'")
    cases = []
    for draft, expected in zip(statements[0:-1:2], statements[1:-1:2], strict=True):
        lines = draft.splitlines()
        meta = dict(line.lstrip("# ").split(":", 1) for line in lines if line.startswith("#"))
        meta = {key.strip(): value.strip() for key, value in meta.items()}
        sql = "\n".join(line for line in lines if not line.startswith("#"))
        cases.append(Case(path.stem, meta["title"], meta["schema"], meta.get("question", ""), sql, expected))
    return cases


CASES = [case for path in sorted(CASES_DIR.glob("*.sql")) for case in load_cases(path)]


@cache
def linked(schema: str, question: str) -> LinkedSchema:
    view = schema_view((CASES_DIR / "schemas" / f"{schema}.sql").read_text(), name=schema)
    return link_schema(question or "anything", view, None, [])


def duckdb(text: str) -> str:
    return sqlglot.parse_one(text, read="duckdb").sql(dialect="duckdb")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.repair}: {c.title}" for c in CASES])
def test_repair_case(case: Case):
    repair = REPAIRS[case.repair]
    draft = sqlglot.parse_one(case.draft, read="duckdb")
    repaired = repair(draft, schema=linked(case.schema, case.question), question=case.question)
    assert repaired.sql(dialect="duckdb") == duckdb(case.expected)
    assert draft.sql(dialect="duckdb") == duckdb(case.draft), "a repair changes a copy, not its input"


def test_every_repair_has_cases_that_change_a_draft_and_cases_that_leave_one():
    assert {c.repair for c in CASES} == set(REPAIRS), "one case file per registered repair, named after it"
    for name in REPAIRS:
        mine = [c for c in CASES if c.repair == name]
        assert any(duckdb(c.draft) != duckdb(c.expected) for c in mine), f"{name} repairs no case"


MODULES = [
    "columns",
    "joins",
    "types",
    "comparisons",
    "functions",
    "grouping",
    "negation",
    "ordering",
    "scales",
    "ddl",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str):
    module = importlib.import_module(f"analytics_chat.engine.repairs.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_every_repair_has_a_docstring_example():
    for name, repair in REPAIRS.items():
        assert ">>> " in (repair.__doc__ or ""), f"{name} has no example"


def test_the_readme_lists_the_repairs_in_the_registry_order():
    assert section_of(README.read_text()) == repairs_markdown(), (
        "the README's table of repairs is out of date: python manage.py document_repairs --write README.md"
    )


def test_the_contributing_example_is_the_real_repair_and_its_real_cases():
    readme = README.read_text()
    example = REPAIRS["show_group_columns"]
    assert inspect.getsource(example) in readme
    cases = (CASES_DIR / "show_group_columns.sql").read_text()
    shown = readme.split("From `show_group_columns.sql`:\n\n```sql\n", 1)[1].split("```", 1)[0]
    assert all(block in cases for block in shown.strip().split("\n\n"))
