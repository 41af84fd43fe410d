"""Columns the draft names on the wrong table or spells otherwise than the catalog."""

from __future__ import annotations

import re

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema

from .helpers import base_tables, scopes


def _spelling(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def respell_columns(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Give a column name no table in FROM has the spelling of the one column it differs from only in
    case and separators (``order_date`` -> ``OrderDate``): the grammar lets such a name through as an output
    alias, and the correction round rarely finds the stored spelling.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE orders (OrderId BIGINT, OrderDate DATE)")
    >>> draft = parse_one("SELECT o.order_date FROM orders AS o")
    >>> respell_columns(draft, schema=shop, question="").sql()
    'SELECT o.OrderDate FROM orders AS o'
    """
    tree = tree.copy()
    for scope in scopes(tree):
        tables = base_tables(scope, schema.scope)
        select = scope.expression
        if not tables or not isinstance(select, exp.Select):
            continue
        outputs = {p.alias.lower() for p in select.expressions if isinstance(p, exp.Alias)}
        for column in scope.columns:
            if column.table and column.table not in tables:
                continue
            if not column.table and column.name.lower() in outputs:
                continue
            candidates = [tables[column.table]] if column.table else list(tables.values())
            if any(t.column(column.name) is not None for t in candidates):
                continue
            wanted = _spelling(column.name)
            matches = {c.name for t in candidates for c in t.columns if _spelling(c.name) == wanted}
            if len(matches) == 1:
                column.set("this", exp.to_identifier(matches.pop()))
    return tree


def move_misplaced_columns(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Move ``T1.c`` to ``T3.c`` when T1's table lacks c and exactly one other table in that FROM has it.

    The commonest slip of small models on joins; fixing it here saves a whole correction round.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema('''
    ...     CREATE TABLE customer (customer_id BIGINT, city VARCHAR);
    ...     CREATE TABLE purchase (customer_id BIGINT, amount DOUBLE);
    ... ''')
    >>> draft = parse_one("SELECT c.amount FROM customer AS c JOIN purchase AS p ON c.customer_id = p.customer_id")
    >>> move_misplaced_columns(draft, schema=shop, question="").sql()
    'SELECT p.amount FROM customer AS c JOIN purchase AS p ON c.customer_id = p.customer_id'
    """
    tree = tree.copy()
    for scope in scopes(tree):
        tables = {
            alias: table
            for alias, source in scope.sources.items()
            if isinstance(source, exp.Table) and (table := schema.scope.table(source.name)) is not None
        }
        for column in scope.columns:
            table = tables.get(column.table)
            if table is None or table.column(column.name) is not None:
                continue
            owners = [alias for alias, other in tables.items() if other.column(column.name) is not None]
            if len(owners) == 1:
                column.set("table", exp.to_identifier(owners[0]))
    return tree


def describe_misplaced_columns(tree: exp.Expression, schema: LinkedSchema) -> list[str]:
    """Say which ``alias.column`` names a column its table does not have, and where that column lives.

    Not a repair: what is left after the repairs goes to the correction round. The guard's "unknown column"
    does not say which table was meant; small models repeat the same draft unless told, e.g., "T2 is
    car_makers, which has no column CountryId; CountryId is in countries".

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema('''
    ...     CREATE TABLE customer (customer_id BIGINT, city VARCHAR);
    ...     CREATE TABLE purchase (customer_id BIGINT, amount DOUBLE);
    ... ''')
    >>> describe_misplaced_columns(parse_one("SELECT c.amount FROM customer AS c"), shop)
    ['c is customer, which has no column amount (its columns: customer_id, city); amount is in purchase']
    """
    problems: list[str] = []
    for scope in scopes(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table) if column.table else None
            if not isinstance(source, exp.Table):
                continue
            table = schema.scope.table(source.name)
            if table is None or table.column(column.name) is not None:
                continue
            owners = [t.name for t in schema.scope.tables if t.column(column.name) is not None]
            where = f"; {column.name} is in {', '.join(owners)}" if owners else ""
            columns = ", ".join(c.name for c in table.columns)
            problems.append(
                f"{column.table} is {table.name}, which has no column {column.name} (its columns: {columns}){where}"
            )
    return list(dict.fromkeys(problems))
