"""The guard's public behaviour: error codes and messages, internal mode, normalised SQL."""

from __future__ import annotations

import pytest
from sqlglot import exp

from catalog import guard
from catalog.guard import GuardError, check_sql

from .conftest import RESTRICTED_SCOPE


def refusal(sql: str, scope: dict | None = RESTRICTED_SCOPE) -> GuardError:
    with pytest.raises(GuardError) as refused:
        check_sql(sql, allowed_tables=scope)
    return refused.value


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT getenv('HOME')", "getenv"),
        ("SELECT * FROM read_parquet('x.parquet')", "read_parquet"),
        ("SELECT * FROM sales_reps", "sales_reps"),
        ("SELECT c.email FROM customers c", "email"),
        ("SELECT * FROM '/etc/passwd'", "/etc/passwd"),
        ("DROP TABLE orders", "DROP TABLE"),
        ("SELECT * FROM range(5)", "table function"),
    ],
)
def test_message_names_the_offending_construct(sql: str, named: str) -> None:
    error = refusal(sql)
    assert named.lower() in error.message.lower()
    assert str(error).startswith(error.code)


def test_accepts_one_query_and_returns_tree_sql_and_tables() -> None:
    guarded = check_sql(
        "select o.channel, count(*) from orders o join customers c using (customer_id) group by 1",
        allowed_tables=RESTRICTED_SCOPE,
    )
    assert isinstance(guarded.expression, exp.Select)
    assert guarded.tables == {"orders", "customers"}
    assert guarded.sql == guarded.expression.sql(dialect="duckdb")
    assert "_col_" not in guarded.sql  # unnamed outputs keep DuckDB's own column names


def test_star_follows_the_given_column_order_and_sorts_sets() -> None:
    listed = check_sql("SELECT * FROM t", allowed_tables={"t": ["b", "a"]}).sql
    assert listed.index("t.b") < listed.index("t.a")
    from_set = check_sql("SELECT * FROM t", allowed_tables={"t": {"b", "a"}}).sql
    assert from_set.index("t.a") < from_set.index("t.b")


def test_scope_keys_are_case_insensitive() -> None:
    guarded = check_sql('SELECT "Amount" FROM Sales', allowed_tables={"SALES": ["AMOUNT"]})
    assert guarded.tables == {"sales"}


def test_internal_mode_skips_scope_but_not_the_rest() -> None:
    guarded = check_sql("SELECT anything FROM any_table", allowed_tables=None)
    assert guarded.tables == {"any_table"}
    assert refusal("SELECT * FROM read_csv('x')", None).code == guard.FUNCTION_NOT_ALLOWED
    assert refusal("SELECT * FROM 'x.csv'", None).code == guard.FILE_PATH
    assert refusal("SELECT * FROM duckdb_settings", None).code == guard.TABLE_NOT_ALLOWED
    assert refusal("SELECT * FROM information_schema.tables", None).code == guard.TABLE_NOT_ALLOWED
    assert refusal("DELETE FROM any_table", None).code == guard.NOT_A_QUERY


def test_too_long_and_non_string_input() -> None:
    assert refusal("SELECT 1 " + " " * guard.MAX_SQL_CHARS).code == guard.TOO_LONG
    assert refusal(None).code == guard.PARSE_ERROR  # type: ignore[arg-type]


def test_deep_nesting_is_refused_not_crashed() -> None:
    sql = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    try:
        check_sql(sql, allowed_tables=RESTRICTED_SCOPE)
    except GuardError as refused:
        assert refused.code == guard.PARSE_ERROR


def test_trailing_semicolon_and_comment_are_one_statement() -> None:
    check_sql("SELECT 1;  -- done", allowed_tables={})


def test_allow_lists_resolve_in_the_installed_sqlglot() -> None:
    """A name that no longer exists in sqlglot would silently shrink the allow-list."""
    function_names = {cls.__name__ for cls in guard.ALLOWED_FUNCTIONS}
    for required in (
        "Count",
        "Sum",
        "Avg",
        "DateTrunc",
        "TimestampTrunc",
        "Case",
        "Cast",
        "Lag",
        "RowNumber",
    ):
        assert required in function_names
    assert not {"ReadCSV", "ReadParquet", "Columns"} & function_names
    assert all(issubclass(cls, exp.Func) for cls in guard.ALLOWED_FUNCTIONS)
    assert not any(issubclass(cls, exp.Func) for cls in guard.ALLOWED_NODES)
    dangerous = {"getenv", "current_setting", "read_text", "read_blob", "glob", "query", "query_table"}
    assert not dangerous & guard.ALLOWED_ANONYMOUS
    assert not any(
        name.startswith(("read_", "parquet_", "duckdb_", "pragma_", "icu_"))
        for name in guard.ALLOWED_ANONYMOUS
    )


def test_tables_in_other_schemas_use_schema_dot_table_keys() -> None:
    scope = {"sales.orders": ["id", "amount"], "orders": ["x"]}
    guarded = check_sql("SELECT o.amount, p.x FROM sales.orders o, main.orders p", allowed_tables=scope)
    assert guarded.tables == {"sales.orders", "orders"}
    assert refusal("SELECT amount FROM orders", scope).code == guard.COLUMN_NOT_ALLOWED
    assert refusal("SELECT * FROM other.orders", scope).code == guard.TABLE_NOT_ALLOWED
    assert refusal("SELECT secret FROM sales.orders", scope).code == guard.COLUMN_NOT_ALLOWED


def test_result_columns_keep_catalog_spelling_and_written_aliases() -> None:
    import duckdb

    with duckdb.connect() as connection:
        connection.execute('CREATE TABLE "Singer" ("Name" VARCHAR, "Age" INTEGER, "Secret" VARCHAR)')
        connection.execute("INSERT INTO \"Singer\" VALUES ('Ann', 30, 'x')")
        scope = {"Singer": ["Name", "Age"]}
        for sql, expected in [
            ("SELECT name, age AS Years FROM singer", ["Name", "Years"]),
            ("SELECT * FROM singer", ["Name", "Age"]),
            ("SELECT s.NAME FROM Singer s ORDER BY 1", ["Name"]),
        ]:
            guarded = check_sql(sql, allowed_tables=scope)
            assert connection.sql(guarded.sql).columns == expected, guarded.sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT order_id -- */ DROP TABLE orders; /*\nFROM orders",
        "SELECT order_id /* x */ FROM orders -- */ ; DROP TABLE orders; --",
        "-- */ DROP TABLE orders; /*\nSELECT 1",
    ],
)
def test_comments_never_reach_duckdb(sql: str) -> None:
    import duckdb

    guarded = check_sql(sql, allowed_tables=RESTRICTED_SCOPE)
    assert "drop" not in guarded.sql.lower()
    assert "/*" not in guarded.sql and "--" not in guarded.sql
    with duckdb.connect() as connection:
        assert len(connection.extract_statements(guarded.sql)) == 1
