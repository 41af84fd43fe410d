"""Numbers stored as text, and keys compared across a number and a text column."""

from __future__ import annotations

from sqlglot import exp

from analytics_chat.engine.linking import ColumnInfo, LinkedSchema, TableInfo
from catalog.column_types import duckdb_type, is_text
from catalog.column_types import is_number as is_number_type

from .helpers import ORDERING, base_tables, column_infos, is_number, scopes, single_column


def _is_text_type(info: ColumnInfo) -> bool:
    return is_text(duckdb_type(info.data_type or "VARCHAR", "duckdb"))


def _is_text(column: exp.Column, tables: dict[str, TableInfo]) -> bool:
    table = tables.get(column.table)
    info = table.column(column.name) if table is not None else None
    return info is not None and _is_text_type(info)


def _is_numeric_query(node: exp.Expression) -> bool:
    """``(SELECT avg(...) ...)``: a scalar subquery whose one column is an average, a sum or a count."""
    query = node.this if isinstance(node, exp.Subquery) else None
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        return False
    return isinstance(query.expressions[0].unalias(), (exp.Avg, exp.Sum, exp.Count))


def _as_number(column: exp.Column) -> exp.Expression:
    return exp.TryCast(this=column.copy(), to=exp.DataType.build("DOUBLE"))


def cast_text_numbers(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Read a text column as a number where the query treats it as one (avg, sum, < 10, BETWEEN 1 AND 5).

    ``TRY_CAST(col AS DOUBLE)``: DuckDB refuses to average or compare text with a number. The model's own
    CAST of one becomes a TRY_CAST.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> airline = schema('CREATE TABLE flight (flight_no VARCHAR, seats VARCHAR)')
    >>> draft = parse_one("SELECT avg(f.seats) FROM flight AS f WHERE f.seats > 100")
    >>> cast_text_numbers(draft, schema=airline, question="").sql()
    'SELECT AVG(TRY_CAST(f.seats AS DOUBLE)) FROM flight AS f WHERE TRY_CAST(f.seats AS DOUBLE) > 100'
    """
    tree = tree.copy()
    for scope in scopes(tree):
        tables = base_tables(scope, schema.scope)
        for column in list(scope.columns):
            if not _is_text(column, tables):
                continue
            parent = column.parent
            if type(parent) is exp.Cast and is_number_type(parent.to):
                # Stored text like 'null' or 'n/a' makes CAST fail the whole query; TRY_CAST reads NULL.
                parent.replace(exp.TryCast(this=column.copy(), to=parent.to.copy()))
            elif isinstance(parent, (exp.Avg, exp.Sum)) and parent.this is column:
                column.replace(_as_number(column))
            elif isinstance(parent, ORDERING):
                other = parent.expression if parent.this is column else parent.this
                if is_number(other) or _is_numeric_query(other):
                    column.replace(_as_number(column))
            elif (
                isinstance(parent, exp.Between)
                and parent.this is column
                and is_number(parent.args["low"])
                and is_number(parent.args["high"])
            ):
                column.replace(_as_number(column))
    return tree


def align_membership_types(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Compare a number column ``IN (SELECT text_column ...)`` (or the reverse) as text on both sides.

    Loosely typed imports store keys both ways, and DuckDB refuses to compare a number with text.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> rental = schema('CREATE TABLE shop (shop_id BIGINT, name VARCHAR); CREATE TABLE hire (shop_ref VARCHAR)')
    >>> draft = parse_one("SELECT s.name FROM shop AS s WHERE s.shop_id IN (SELECT h.shop_ref FROM hire AS h)")
    >>> align_membership_types(draft, schema=rental, question="").sql()
    'SELECT s.name FROM shop AS s WHERE CAST(s.shop_id AS VARCHAR) IN (SELECT h.shop_ref FROM hire AS h)'
    """
    tree = tree.copy()
    infos = column_infos(tree, schema.scope)
    for membership in list(tree.find_all(exp.In)):
        query = membership.args.get("query")
        left, right = (
            membership.this,
            single_column(query.this if isinstance(query, exp.Subquery) else query),
        )
        if id(left) not in infos or right is None or id(right) not in infos:
            continue
        left_text, right_text = _is_text_type(infos[id(left)][1]), _is_text_type(infos[id(right)][1])
        if left_text == right_text:
            continue
        number = right if left_text else left
        number.replace(exp.Cast(this=number.copy(), to=exp.DataType.build("VARCHAR")))
    return tree
