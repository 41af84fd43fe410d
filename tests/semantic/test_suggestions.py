"""Every suggested question shown on the demo and on each Spider source compiles, passes the guard and
finds rows; the Spider sources (no semantic layer) get questions from their catalog alone."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from catalog.execution import run_query
from catalog.guard import check_sql
from catalog.sync import import_source
from semantic import suggestions as suggestions_module
from semantic.compiler import compile_to_sql
from semantic.suggestions import KINDS, suggest
from tests.live import REPO


def spider_databases() -> list[Path]:
    """Spider's SQLite files from the shared eval folder beside the clone (CI clones next to it)."""
    for folder in [REPO, *REPO.parents]:
        found = sorted((folder / "shared" / "eval" / "spider" / "db").glob("*.sqlite"))
        if found:
            return found
    return []


SPIDER = spider_databases()


def assert_runs(source, suggestion, tables=None) -> None:
    if suggestion.semantic_query is not None:
        assert compile_to_sql(source, suggestion.semantic_query, tables) == suggestion.sql
    visible = {t.name: [c.name for c in t.columns.all()] for t in source.tables.filter(enabled=True)}
    guarded = check_sql(suggestion.sql, allowed_tables=visible)
    result = run_query(source, guarded.sql)
    assert result.row_count == suggestion.row_count > 0, suggestion


def test_docstring_examples():
    assert doctest.testmod(suggestions_module).failed == 0


@pytest.mark.django_db
def test_every_demo_suggestion_runs_and_the_kinds_take_turns(demo_source):
    shown = suggest(demo_source)
    assert 6 <= len(shown) <= 8
    assert [s.kind for s in shown[: len(KINDS)]] == list(KINDS)
    for suggestion in shown:
        assert_runs(demo_source, suggestion)
    # Different metrics and dimensions, not one metric every way.
    metrics = {s.semantic_query["metrics"][0] for s in shown}
    assert len(metrics) >= 2
    filtered = next(s for s in shown if s.kind == "filter")
    (condition,) = filtered.semantic_query["filters"]
    assert str(condition["value"]) in filtered.question  # a value the profile found


@pytest.mark.django_db
@pytest.mark.skipif(
    not SPIDER, reason="the Spider databases (shared/eval/spider/db beside the clone) are absent"
)
@pytest.mark.parametrize("path", SPIDER, ids=[p.stem for p in SPIDER])
def test_every_spider_suggestion_runs(path: Path, settings, tmp_path):
    settings.CATALOG_CACHE_DIR = tmp_path / "catalog_cache"
    source = import_source(path.stem, path)
    shown = suggest(source)
    assert shown, f"no question could be built for {path.stem}"
    for suggestion in shown:
        assert suggestion.semantic_query is None  # no semantic layer: questions from the catalog
        assert_runs(source, suggestion)
