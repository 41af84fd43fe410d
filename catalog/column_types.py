"""One type classifier: column types under DuckDB's names, and which of them are numbers, dates or text."""

from __future__ import annotations

from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import SqlglotError

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
    "REAL",
)
TEMPORAL_PREFIXES = ("DATE", "TIMESTAMP", "TIME")
TEXT_PREFIXES = ("VARCHAR", "ENUM")


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


def is_numeric(data_type: str) -> bool:
    return data_type.upper().startswith(NUMERIC_PREFIXES)


def is_temporal(data_type: str) -> bool:
    return data_type.upper().startswith(TEMPORAL_PREFIXES)


def is_text(data_type: str) -> bool:
    return data_type.upper().startswith(TEXT_PREFIXES)
