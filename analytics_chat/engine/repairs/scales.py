"""Shares and rates at the scale the question asks for."""

from __future__ import annotations

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema
from analytics_chat.engine.shape import PERCENT_WORDS


def _hundred(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and float(node.this) == 100


def _is_fraction(node: exp.Expr) -> bool:
    """A division, or the average of a 0/1 condition: a share or a rate."""
    node = node.unnest()
    if isinstance(node, exp.Cast):
        node = node.this.unnest()
    if isinstance(node, exp.Div):
        return True
    return isinstance(node, exp.Avg) and isinstance(node.this.unnest(), (exp.Case, exp.If))


def _times_hundred(node: exp.Expr) -> exp.Expr | None:
    """``x`` of ``100 * x`` or ``x * 100`` where x is a fraction; also ``100.0 * a / b`` as parsed."""
    node = node.unnest()
    if isinstance(node, exp.Mul):
        for factor, other in ((node.this, node.expression), (node.expression, node.this)):
            if _hundred(factor) and _is_fraction(other):
                return other
    if isinstance(node, exp.Div) and isinstance(node.this.unnest(), exp.Mul):
        scaled = node.this.unnest()
        for factor, other in ((scaled.this, scaled.expression), (scaled.expression, scaled.this)):
            if _hundred(factor):
                return exp.Div(this=other.copy(), expression=node.expression.copy())
    return None


def _percent_column(schema: LinkedSchema) -> bool:
    return any(
        PERCENT_WORDS.search(column.name.replace("_", " "))
        for table in schema.scope.tables
        for column in table.columns
    )


def scale_shares_as_asked(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """A share or rate is a fraction (0.06) unless the question says "percent", "percentage" or "%":
    a computed column ``100 * a / b`` loses the 100 for "the cancellation rate", and a bare ``a / b``
    gains it for "what percentage of ...". Left alone when a column's name says percent (the question
    may mean that column) and for anything but a division or the average of a condition.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE orders (order_id BIGINT, status VARCHAR);")
    >>> rate = "SELECT 100.0 * COUNT(CASE WHEN status = 'cancelled' THEN 1 END) / COUNT(*) FROM orders"
    >>> scale_shares_as_asked(parse_one(rate), schema=shop, question="The cancellation rate?").sql()
    "SELECT COUNT(CASE WHEN status = 'cancelled' THEN 1 END) / COUNT(*) FROM orders"
    >>> share = "SELECT AVG(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS share FROM orders"
    >>> scale_shares_as_asked(parse_one(share), schema=shop, question="What % were returned?").sql()
    "SELECT 100 * (AVG(CASE WHEN status = 'returned' THEN 1 ELSE 0 END)) AS share FROM orders"
    """
    if not isinstance(tree, exp.Select) or _percent_column(schema):
        return tree
    percent = bool(PERCENT_WORDS.search(question))
    tree = tree.copy()
    for projection in tree.expressions:
        value = projection.this if isinstance(projection, exp.Alias) else projection
        unscaled = _times_hundred(value)
        if unscaled is not None and not percent:
            value.replace(unscaled.copy())
        elif unscaled is None and percent and _is_fraction(value) and value.find(exp.AggFunc) is not None:
            value.replace(exp.Mul(this=exp.Literal.number(100), expression=exp.paren(value.copy())))
    return tree
