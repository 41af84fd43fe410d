"""One type classifier: column types under DuckDB's names, and which of them are numbers, dates or text."""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import SqlglotError

# Column types are classified by their DuckDB names (``duckdb_type`` gives every source's types those
# names), by prefix: ``DECIMAL(18,3)`` is a number, ``TIMESTAMP WITH TIME ZONE`` a date. A list type is
# read by its element type (``INTEGER[]`` is a number), as the checks before these did. Nodes of sqlglot's
# AST (``exp.DataType``) are classified by sqlglot's own type sets. Every check of a column's kind in the
# project goes through the functions at the end of this module.
NUMERIC_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "NUMERIC",  # DuckDB's other name for DECIMAL (it reports DECIMAL)
    "REAL",
)
# Whole numbers. UINTEGER is left out as the charts' check left it out (a behaviour kept by this refactor).
INTEGER_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UBIGINT",
                    "UHUGEINT")  # fmt: skip
DATE_PREFIXES = ("DATE", "TIMESTAMP")  # a calendar day, with or without a time of day (DATETIME too)
TEMPORAL_PREFIXES = ("DATE", "TIMESTAMP", "TIME")  # dates, and times of day
TEXT_PREFIXES = ("VARCHAR", "ENUM")
# INT alone (not INTERVAL) is a number too: DuckDB reports INTEGER, but a hand-written type may say INT.
_INT = re.compile(r"^INT\b", re.IGNORECASE)


_TYPE = exp.DataType.Type
# Server column types under the names DuckDB gives them, so that the catalog, the prompt and the type
# checks below read every source alike. Types not listed keep sqlglot's DuckDB spelling.
_DUCKDB_NAMES = {
    **dict.fromkeys(exp.DataType.TEXT_TYPES | {_TYPE.ENUM, _TYPE.SET, _TYPE.NAME, _TYPE.TINYTEXT,
                                               _TYPE.MEDIUMTEXT, _TYPE.LONGTEXT, _TYPE.BPCHAR}, "VARCHAR"),
    _TYPE.TINYINT: "TINYINT", _TYPE.SMALLINT: "SMALLINT", _TYPE.MEDIUMINT: "INTEGER", _TYPE.INT: "INTEGER",
    _TYPE.BIGINT: "BIGINT", _TYPE.UTINYINT: "UTINYINT", _TYPE.USMALLINT: "USMALLINT",
    _TYPE.UMEDIUMINT: "UINTEGER", _TYPE.UINT: "UINTEGER", _TYPE.UBIGINT: "UBIGINT", _TYPE.YEAR: "INTEGER",
    _TYPE.FLOAT: "FLOAT", _TYPE.DOUBLE: "DOUBLE", _TYPE.BOOLEAN: "BOOLEAN", _TYPE.DATE: "DATE",
    _TYPE.TIME: "TIME", _TYPE.TIMESTAMP: "TIMESTAMP", _TYPE.DATETIME: "TIMESTAMP",
    _TYPE.TIMESTAMPTZ: "TIMESTAMP WITH TIME ZONE", _TYPE.TIMESTAMPLTZ: "TIMESTAMP WITH TIME ZONE",
    _TYPE.UUID: "UUID", _TYPE.JSON: "JSON", _TYPE.JSONB: "JSON", _TYPE.INTERVAL: "INTERVAL",
    **dict.fromkeys((_TYPE.VARBINARY, _TYPE.BINARY, _TYPE.BLOB, _TYPE.TINYBLOB, _TYPE.MEDIUMBLOB,
                     _TYPE.LONGBLOB), "BLOB"),
}  # fmt: skip


@lru_cache(maxsize=1024)  # the engine asks for the same few types on every question
def duckdb_type(native: str, dialect: str) -> str:
    """A server's column type as DuckDB names it: ``character varying(20)`` -> ``VARCHAR``,
    ``int(11)`` -> ``INTEGER``, ``numeric(10,2)`` -> ``DECIMAL(10,2)``. Unknown types come back in capitals.

    >>> duckdb_type("timestamp without time zone", "postgres"), duckdb_type("bigint(20) unsigned", "mysql")
    ('TIMESTAMP', 'UBIGINT')
    """
    try:
        data_type = exp.DataType.build(native, dialect=dialect)
    except (SqlglotError, ValueError):
        return native.upper()
    kind = data_type.this
    if kind in exp.DataType.REAL_TYPES - {_TYPE.FLOAT, _TYPE.DOUBLE}:
        parameters = [p.name for p in data_type.expressions][:2]
        return f"DECIMAL({','.join(parameters)})" if parameters else "DECIMAL"
    if kind in _DUCKDB_NAMES:
        return _DUCKDB_NAMES[kind]
    return data_type.sql("duckdb").upper()


def is_number(data_type: str | exp.DataType) -> bool:
    """A number: an integer, a float or a decimal.

    >>> is_number("DECIMAL(18,3)"), is_number("numeric(10, 2)"), is_number("INTERVAL"), is_number("VARCHAR")
    (True, True, False, False)
    """
    if isinstance(data_type, exp.DataType):
        return data_type.is_type(*exp.DataType.NUMERIC_TYPES)
    return data_type.upper().startswith(NUMERIC_PREFIXES) or bool(_INT.match(data_type))


def is_integer(data_type: str | exp.DataType) -> bool:
    """A whole number: ``INTEGER``, ``BIGINT``, ``UBIGINT`` ...; not a decimal, even one of scale 0.

    >>> is_integer("BIGINT"), is_integer("INT"), is_integer("DECIMAL(18,0)"), is_integer("DOUBLE")
    (True, True, False, False)
    """
    if isinstance(data_type, exp.DataType):
        return data_type.is_type(*exp.DataType.INTEGER_TYPES)
    return data_type.upper().startswith(INTEGER_PREFIXES) or bool(_INT.match(data_type))


def is_date(data_type: str) -> bool:
    """A calendar date or a timestamp (not a time of day alone).

    >>> is_date("DATE"), is_date("TIMESTAMP WITH TIME ZONE"), is_date("TIME")
    (True, True, False)
    """
    return data_type.upper().startswith(DATE_PREFIXES)


def is_temporal(data_type: str) -> bool:
    """A date, a timestamp or a time of day."""
    return data_type.upper().startswith(TEMPORAL_PREFIXES)


def is_text(data_type: str | exp.DataType) -> bool:
    """Text: ``VARCHAR`` (every server's character types) or an ``ENUM``; for an AST node, sqlglot's text types."""
    if isinstance(data_type, exp.DataType):
        return data_type.is_type(*exp.DataType.TEXT_TYPES)
    return data_type.upper().startswith(TEXT_PREFIXES)
