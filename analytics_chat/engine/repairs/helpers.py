"""AST helpers the repairs share: scopes and their catalog tables, declared keys, conditions, aggregates."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from analytics_chat.engine.linking import ColumnInfo, SchemaView, TableInfo

ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)


def scopes(tree: exp.Expression) -> list[Scope]:
    """sqlglot's scopes of the tree, or none when sqlglot cannot build them."""
    try:
        return traverse_scope(tree)
    except sqlglot.errors.SqlglotError:
        return []


def base_tables(scope: Scope, schema: SchemaView) -> dict[str, TableInfo]:
    """alias -> catalog table, for the base tables in this scope's FROM and JOINs."""
    found: dict[str, TableInfo] = {}
    for alias, source in scope.sources.items():
        if isinstance(source, exp.Table):
            table = schema.table(source.name)
            if table is not None:
                found[alias] = table
    return found


def column_infos(tree: exp.Expression, schema: SchemaView) -> dict[int, tuple[TableInfo, ColumnInfo]]:
    """id(column node) -> (catalog table, catalog column), for every base-table column in any scope."""
    found: dict[int, tuple[TableInfo, ColumnInfo]] = {}
    for scope in scopes(tree):
        tables = base_tables(scope, schema)
        for column in scope.columns:
            table = tables.get(column.table)
            info = table.column(column.name) if table is not None else None
            if table is not None and info is not None:
                found[id(column)] = (table, info)
    return found


def single_column(select: exp.Expr | None) -> exp.Column | None:
    """The one plain column a SELECT shows, if that is all it shows."""
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return None
    value = select.expressions[0].unalias()
    return value if isinstance(value, exp.Column) else None


def is_number(node: exp.Expression) -> bool:
    """A number literal (``3``, ``-2.5``)."""
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


def has_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.AggFunc) for n in node.walk()) or isinstance(node, exp.AggFunc)


def conjuncts_of(where: exp.Where) -> list[exp.Expr]:
    """The conditions a WHERE (or HAVING) ANDs together."""
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def same_column(a: exp.Expression, b: exp.Expression) -> bool:
    return (
        isinstance(a, exp.Column)
        and isinstance(b, exp.Column)
        and a.table == b.table
        and a.name.lower() == b.name.lower()
    )
