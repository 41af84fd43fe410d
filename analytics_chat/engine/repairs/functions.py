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


_DATE_PARTS = {"%Y": exp.Year, "%m": exp.Month, "%d": exp.Day}


def read_date_parts_as_numbers(
    tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """SQLite's ``strftime('%Y', d)`` is DuckDB's ``year(d)``: a year, month or day as the number it is,
    so "for each order year" reads 2024, not the text '2024', and compares with numbers. Either argument
    order; a comparison with a text literal still holds (DuckDB reads '2024' as a number there); a part
    matched with LIKE or joined into text stays text.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE sale (sold_on DATE, amount DOUBLE);")
    >>> draft = parse_one("SELECT strftime('%Y', s.sold_on) AS y, sum(s.amount) FROM sale AS s GROUP BY 1", read="duckdb")
    >>> read_date_parts_as_numbers(draft, schema=shop, question="").sql(dialect="duckdb")
    'SELECT YEAR(s.sold_on) AS y, SUM(s.amount) FROM sale AS s GROUP BY 1'
    """
    tree = tree.copy()
    for node in list(tree.find_all(exp.TimeToStr)):
        first, second = node.this, node.args.get("format")
        fmt, value = (
            (first, second) if isinstance(first, exp.Literal) and first.is_string else (second, first)
        )
        part = _DATE_PARTS.get(fmt.this) if isinstance(fmt, exp.Literal) and fmt.is_string else None
        if (
            part is None
            or value is None
            or isinstance(node.parent, (exp.Like, exp.ILike, exp.DPipe, exp.Concat))
        ):
            continue
        node.replace(part(this=value.copy()))
    return tree
