"""Fuzzing: generated SQL never crashes the guard, and whatever it accepts is a safe query."""

from __future__ import annotations

import os

import sqlglot
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from catalog.guard import (
    ALLOWED_ANONYMOUS,
    ALLOWED_FUNCTIONS,
    STATEMENT_TYPES,
    GuardedQuery,
    GuardError,
    check_sql,
)

from .conftest import RESTRICTED_SCOPE

FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("GUARD_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,  # no example database files in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)

VISIBLE_COLUMNS = sorted({column for columns in RESTRICTED_SCOPE.values() for column in columns})
TABLES = [*RESTRICTED_SCOPE, "sales_reps", "information_schema.tables", "other.main.orders", "'/etc/passwd'"]
COLUMNS = [*VISIBLE_COLUMNS, "email", "rowid", "customers", "*"]
FUNCTIONS = ["count", "sum", "avg", "upper", "date_trunc", "coalesce", "round", "read_csv", "getenv",
             "read_text", "glob", "current_setting", "duckdb_tables", "columns", "query", "now"]  # fmt: skip
TABLE_SOURCES = [*TABLES, "read_csv('/etc/passwd')", "range(10)", "glob('*')", "(SELECT 1 AS x)",
                 "(VALUES (1))", "unnest([1])"]  # fmt: skip
TOKENS = ["SELECT", "FROM", "WHERE", "WITH", "AS", "(", ")", ",", ";", "--", "/*", "*/", "'", '"', "*",
          "UNION", "JOIN", "ON", "INSERT", "INTO", "DROP", "TABLE", "COPY", "TO", "ATTACH", "PRAGMA",
          "SET", "CALL", "LATERAL", "VALUES", "GROUP BY", "ORDER BY", "1", "=", "x", "-> ", "::",
          *TABLES, *COLUMNS, *FUNCTIONS]  # fmt: skip

identifiers = st.sampled_from(COLUMNS)
tables = st.sampled_from(TABLE_SOURCES)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        return draw(identifiers)
    if choice == 1:
        return draw(st.sampled_from(["1", "'a'", "NULL", "DATE '2024-01-01'", "2.5"]))
    if choice == 2:
        function = draw(st.sampled_from(FUNCTIONS))
        return f"{function}({draw(expressions(depth + 1))})"
    if choice == 3:
        operator = draw(st.sampled_from(["+", "=", "AND", "||", "<", "LIKE"]))
        return f"{draw(expressions(depth + 1))} {operator} {draw(expressions(depth + 1))}"
    return f"(SELECT {draw(expressions(depth + 1))} FROM {draw(tables)})"


@st.composite
def queries(draw: st.DrawFn) -> str:
    projections = ", ".join(draw(st.lists(expressions(), min_size=1, max_size=3)))
    sql = f"SELECT {projections} FROM {draw(tables)} AS t0"
    if draw(st.booleans()):
        sql += f" JOIN {draw(tables)} AS t1 ON {draw(expressions())}"
    if draw(st.booleans()):
        sql += f" WHERE {draw(expressions())}"
    if draw(st.booleans()):
        sql = f"WITH cte AS ({sql}) SELECT * FROM cte"
    if draw(st.booleans()):
        sql = f"{sql} UNION ALL {sql}"
    prefix = draw(st.sampled_from(["", "/* c */ ", "-- c\n", "EXPLAIN ", "CREATE TABLE z AS "]))
    suffix = draw(st.sampled_from(["", ";", "; DROP TABLE orders", " -- ; DROP", "; SELECT 1"]))
    return prefix + sql + suffix


def assert_safe(guarded: GuardedQuery) -> None:
    """Re-check what would run, from its text, independently of the guard's own scope analysis."""
    statements = [s for s in sqlglot.parse(guarded.sql, read="duckdb") if s is not None]
    assert len(statements) == 1
    tree = statements[0]
    assert isinstance(tree, exp.Query | exp.Values)
    for node in tree.walk():
        assert not isinstance(node, tuple(STATEMENT_TYPES)), node.sql()
        if isinstance(node, exp.Anonymous):
            assert node.name.lower() in ALLOWED_ANONYMOUS, node.sql()
        elif isinstance(node, exp.Func):
            assert type(node) in ALLOWED_FUNCTIONS, node.sql()
        if isinstance(node, exp.Table):
            assert isinstance(node.this, exp.Identifier), node.sql()
            assert not node.catalog
        if isinstance(node, exp.Identifier):
            # The only hidden names in this scope; the grammar never uses them as aliases.
            assert node.name.lower() not in {"email", "sales_reps", "rowid", "information_schema"}
    assert guarded.tables <= set(RESTRICTED_SCOPE)
    # The normalised SQL is a fixed point: checking it again accepts it.
    check_sql(guarded.sql, allowed_tables=RESTRICTED_SCOPE)


def check_or_refuse(sql: str) -> None:
    try:
        guarded = check_sql(sql, allowed_tables=RESTRICTED_SCOPE)
    except GuardError as refused:
        assert refused.code and refused.message
        # The fail-closed net in check_sql must not be what refused it: that would be a guard bug.
        assert not isinstance(refused.__cause__, AssertionError | NameError | AttributeError), refused
        assert "could not be analysed (" not in refused.message, refused
        return
    assert_safe(guarded)


@FUZZ_SETTINGS
@given(st.text(max_size=200))
def test_random_text_never_crashes_the_guard(sql: str) -> None:
    check_or_refuse(sql)


@FUZZ_SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_random_token_soup_never_crashes_the_guard(sql: str) -> None:
    check_or_refuse(sql)


@FUZZ_SETTINGS
@given(queries())
def test_grammar_queries_are_refused_or_safe(sql: str) -> None:
    check_or_refuse(sql)


@FUZZ_SETTINGS
@given(queries())
def test_internal_mode_accepts_only_plain_queries(sql: str) -> None:
    """Without a scope (internal use) the guard still refuses statements, readers and system tables."""
    try:
        guarded = check_sql(sql, allowed_tables=None)
    except GuardError as refused:
        assert "could not be analysed (" not in refused.message, refused
        return
    tree = sqlglot.parse_one(guarded.sql, read="duckdb")
    assert isinstance(tree, exp.Query | exp.Values)
    for node in tree.walk():
        assert not isinstance(node, tuple(STATEMENT_TYPES)), node.sql()
        if isinstance(node, exp.Anonymous):
            assert node.name.lower() in ALLOWED_ANONYMOUS, node.sql()
        elif isinstance(node, exp.Func):
            assert type(node) in ALLOWED_FUNCTIONS, node.sql()
        if isinstance(node, exp.Table):
            assert isinstance(node.this, exp.Identifier) and not node.db and not node.catalog, node.sql()
            assert "/" not in node.name and "." not in node.name, node.sql()


def _accepted(sql: str) -> bool:
    try:
        check_sql(sql, allowed_tables=RESTRICTED_SCOPE)
    except GuardError:
        return False
    return True


def test_grammar_reaches_the_accepting_branch() -> None:
    """Guard against a vacuous fuzz: the grammar does produce queries the guard accepts."""
    example = find(
        queries(), lambda sql: _accepted(sql) and " JOIN " in sql, settings=settings(max_examples=2000)
    )
    assert_safe(check_sql(example, allowed_tables=RESTRICTED_SCOPE))
