"""The hostile corpus is refused with the right code; the legitimate queries pass and mean the same."""

from __future__ import annotations

from collections import Counter

import pytest

from catalog.guard import GuardError, check_sql

from .conftest import FULL_SCOPE, RESTRICTED_SCOPE, file_digest, load_yaml

HOSTILE = load_yaml("hostile_sql.yaml")
LEGIT = load_yaml("legit_sql.yaml")


def test_corpus_sizes() -> None:
    assert len(HOSTILE) >= 80
    assert len(LEGIT) >= 40
    assert len({item["sql"] for item in HOSTILE}) == len(HOSTILE), "duplicate hostile statements"


@pytest.mark.parametrize("item", HOSTILE, ids=[f"h{i:03d}" for i in range(len(HOSTILE))])
def test_hostile_statement_is_refused_with_the_right_code(item: dict) -> None:
    with pytest.raises(GuardError) as refused:
        check_sql(item["sql"], allowed_tables=RESTRICTED_SCOPE)
    assert refused.value.code == item["code"], refused.value.message
    assert refused.value.message  # a refusal always says what was wrong


@pytest.mark.parametrize("item", HOSTILE, ids=[f"h{i:03d}" for i in range(len(HOSTILE))])
def test_hostile_statement_is_refused_even_with_full_scope(item: dict) -> None:
    """Scope only hides data; everything but the scope-based refusals holds without it."""
    scope_codes = {"table_not_allowed", "column_not_allowed"}
    try:
        check_sql(item["sql"], allowed_tables=FULL_SCOPE)
    except GuardError:
        return
    assert item["code"] in scope_codes, f"accepted with full scope: {item['sql']}"


@pytest.mark.parametrize("sql", LEGIT, ids=[f"q{i:02d}" for i in range(len(LEGIT))])
def test_legitimate_query_passes_restricted_scope(sql: str) -> None:
    guarded = check_sql(sql, allowed_tables=RESTRICTED_SCOPE)
    assert guarded.tables <= set(RESTRICTED_SCOPE)
    assert "email" not in guarded.sql.lower()


@pytest.mark.parametrize("sql", LEGIT, ids=[f"q{i:02d}" for i in range(len(LEGIT))])
def test_guarded_sql_returns_the_same_rows_on_real_duckdb(sql: str, demo_readonly) -> None:
    guarded = check_sql(sql, allowed_tables=FULL_SCOPE)
    original = demo_readonly.sql(sql)
    rewritten = demo_readonly.sql(guarded.sql)
    assert rewritten.columns == original.columns
    assert Counter(map(repr, rewritten.fetchall())) == Counter(map(repr, original.fetchall()))


def test_star_expands_to_visible_columns_only(demo_readonly) -> None:
    guarded = check_sql("SELECT * FROM customers c", allowed_tables=RESTRICTED_SCOPE)
    result = demo_readonly.sql(guarded.sql)
    assert result.columns == RESTRICTED_SCOPE["customers"]
    assert all("@" not in str(value) for row in result.fetchall() for value in row)


def test_running_guarded_queries_leaves_the_data_file_unchanged(demo_duckdb) -> None:
    import duckdb

    before = file_digest(demo_duckdb)
    with duckdb.connect(str(demo_duckdb), read_only=True) as connection:
        for sql in LEGIT:
            connection.sql(check_sql(sql, allowed_tables=RESTRICTED_SCOPE).sql).fetchall()
    assert file_digest(demo_duckdb) == before
