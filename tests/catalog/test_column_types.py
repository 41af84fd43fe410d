"""Column kinds in one place: every check of a number, date or text type agrees, decimals included."""

from __future__ import annotations

import pytest
from sqlglot import exp

from analytics_chat.presentation.charts import CATEGORY, MEASURE, PERIOD, TEMPORAL, describe_columns
from catalog.column_types import duckdb_type, is_date, is_integer, is_number, is_temporal, is_text

# DuckDB's scalar type names, as its results and information schema spell them.
NUMBERS = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL(18,3)", "DECIMAL(10,2)", "DECIMAL(38,0)"]  # fmt: skip
DATES = ["DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"]
TEXT = ["VARCHAR"]
# Not BIT: sqlglot counts it an integer type, DuckDB means a bit string by it.
OTHER = ["BOOLEAN", "BLOB", "UUID", "INTERVAL", "JSON", "TIME"]


@pytest.mark.parametrize("name", NUMBERS + DATES + TEXT + OTHER)
def test_a_type_name_and_its_sqlglot_node_are_the_same_kind(name):
    node = exp.DataType.build(name, dialect="duckdb")
    assert is_number(name) == is_number(node) == (name in NUMBERS)
    assert is_integer(name) == is_integer(node) or name == "UINTEGER"
    assert is_text(name) == is_text(node) == (name in TEXT)
    assert is_date(name) == (name in DATES)
    assert is_temporal(name) == (name in DATES or name == "TIME")


@pytest.mark.parametrize(
    ("native", "dialect"),
    [("numeric(10,2)", "postgres"), ("decimal(12,4)", "mysql"), ("NUMERIC", "sqlite"), ("money", "postgres")],
)
def test_server_decimals_are_numbers_but_not_integers(native, dialect):
    name = duckdb_type(native, dialect)
    assert is_number(name), name
    assert not is_integer(name), name
    assert not is_text(name) and not is_date(name)


def test_decimal_spellings_are_numbers_everywhere():
    # The charts once had their own list (with NUMERIC) and the catalog another (without): one list now.
    for name in ("DECIMAL", "DECIMAL(18,3)", "decimal(5, 1)", "NUMERIC", "NUMERIC(10,2)"):
        assert is_number(name) and not is_integer(name), name
    assert is_number("INT") and is_integer("INT") and not is_number("INTERVAL")
    assert is_number(exp.DataType.build("DECIMAL(10,2)")) and not is_integer(exp.DataType.build("DECIMAL"))


def test_charts_read_a_decimal_column_as_a_measure_by_its_type_alone():
    data = {
        "columns": ["amount", "year", "order_id", "day", "label"],
        "types": ["DECIMAL(18,2)", "BIGINT", "INTEGER", "TIMESTAMP WITH TIME ZONE", "VARCHAR"],
        "rows": [],
    }
    roles = [column.role for column in describe_columns(data)]
    assert roles == [MEASURE, PERIOD, CATEGORY, TEMPORAL, CATEGORY]
    decimal_year = describe_columns({"columns": ["year"], "types": ["DECIMAL(4,0)"], "rows": [[2024.0]]})
    assert decimal_year[0].role == MEASURE  # a decimal is no whole number, so no period: an amount
    integer_year = describe_columns({"columns": ["year"], "types": ["BIGINT"], "rows": [[2024]]})
    assert integer_year[0].role == PERIOD
