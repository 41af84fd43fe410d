"""Functions called the way another dialect calls them."""

from __future__ import annotations

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema


def _is_fraction(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def order_quantile_arguments(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Put a percentile's fraction second: ``quantile_cont(0.9, x)``, in the order of standard SQL's
    ``percentile_cont(0.9) WITHIN GROUP (ORDER BY x)``, is DuckDB's ``quantile_cont(x, 0.9)``, which
    otherwise fails to bind ("the quantile argument must be a constant").

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> zoo = schema("CREATE TABLE animal (name VARCHAR, weight DOUBLE);")
    >>> draft = parse_one("SELECT quantile_cont(0.9, animal.weight) FROM animal", read="duckdb")
    >>> order_quantile_arguments(draft, schema=zoo, question="").sql(dialect="duckdb")
    'SELECT QUANTILE_CONT(animal.weight, 0.9) FROM animal'
    """
    tree = tree.copy()
    for node in tree.find_all(exp.PercentileCont, exp.PercentileDisc):
        value, fraction = node.this, node.args.get("expression")
        if _is_fraction(value) and fraction is not None and not _is_fraction(fraction):
            node.set("this", fraction.copy())
            node.set("expression", value.copy())
    return tree
