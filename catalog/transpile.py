"""DuckDB-dialect query trees rewritten for a PostgreSQL or MySQL/MariaDB server, and rendered there.

The engine writes DuckDB SQL; a server source runs it in its own dialect. sqlglot's transpiler does most
of the work; the rules here cover what it leaves out, so that a query means on the server what it means
on DuckDB: ``ANY_VALUE`` (not in PostgreSQL 15 or MariaDB) becomes ``MIN``, ``TRY_CAST`` to a number
gives NULL for text that is not one (a plain CAST fails on PostgreSQL and gives 0 on MySQL), ``/`` and
``AVG`` stay in floating point on MySQL (which keeps 4 decimals), and so on. Each rule is a function from
tree to tree, named by what it does; ``RULES`` lists which run for each dialect.

>>> import sqlglot
>>> render(sqlglot.parse_one("SELECT any_value(name), avg(age) FROM pets GROUP BY kind", read="duckdb"), "mysql")
'SELECT MIN(`name`), AVG(CAST(`age` AS DOUBLE)) FROM `pets` GROUP BY `kind`'
>>> render(sqlglot.parse_one("SELECT round(weight, 1) FROM pets", read="duckdb"), "postgres")
'SELECT ROUND(CAST("weight" AS DECIMAL), 1) FROM "pets"'
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types

from catalog.column_types import is_integer, is_number, is_text

Rule = Callable[[exp.Expr], exp.Expr]

# A number as text: what TRY_CAST accepts. POSIX classes, because PostgreSQL's and MariaDB's regular
# expressions agree on them, and no backslash has to survive MySQL's string escapes.
_DECIMAL_TEXT = r"^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[[:space:]]*$"
_INTEGER_TEXT = r"^[[:space:]]*[-+]?[0-9]+[[:space:]]*$"


class TranspileError(ValueError):
    """The query uses something the target dialect cannot express (names what)."""


# Functions a dialect has no faithful form of, though sqlglot writes them anyway (MySQL has no arrays,
# no ARG_MAX, and MariaDB's MEDIAN and PERCENTILE_CONT are window functions only).
_MYSQL_LACKS = (
    exp.ArgMax, exp.ArgMin, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile,
    exp.ApproxQuantile, exp.Array, exp.Explode, exp.Unnest, exp.Struct, exp.Map, exp.VarMap, exp.Lambda,
)  # fmt: skip
UNSUPPORTED: dict[str, tuple[type[exp.Expr], ...]] = {"mysql": _MYSQL_LACKS}


def unsupported_function(tree: exp.Expr, dialect: str) -> exp.Expr | None:
    """The first node of ``tree`` the dialect has no faithful form of, or None. Array functions other
    than ARRAY_AGG (which MySQL writes as GROUP_CONCAT) count as well on MySQL."""
    lacking = UNSUPPORTED.get(dialect, ())
    for node in tree.walk():
        if isinstance(node, lacking):
            return node
        if (
            dialect == "mysql"
            and type(node).__name__.startswith("Array")
            and not isinstance(node, exp.ArrayAgg)
        ):
            return node
    return None


def min_for_any_value(tree: exp.Expr) -> exp.Expr:
    """``ANY_VALUE(x)`` -> ``MIN(x)``: any value of the group, and one both servers have. (sqlglot reads
    DuckDB's any_value as ``ANY_VALUE(x) IGNORE NULLS``; MIN ignores NULLs anyway.)"""
    for node in list(tree.find_all(exp.AnyValue)):
        replaced = node.parent if isinstance(node.parent, exp.IgnoreNulls) else node
        replaced.replace(exp.Min(this=node.this))
    return tree


def extract_for_date_part(tree: exp.Expr) -> exp.Expr:
    """DuckDB's ``date_part('year', d)`` (which sqlglot passes through by name) -> ``EXTRACT(YEAR FROM d)``."""
    for node in list(tree.find_all(exp.Anonymous)):
        args = node.expressions
        if node.name.lower() in ("date_part", "datepart") and len(args) == 2 and args[0].is_string:
            node.replace(exp.Extract(this=exp.var(args[0].name.upper()), expression=args[1]))
    return tree


def null_for_failed_number_cast(tree: exp.Expr) -> exp.Expr:
    """``TRY_CAST(x AS number)`` -> ``CASE WHEN CAST(x AS TEXT) ~ number THEN CAST(x AS number) END``.

    Other TRY_CASTs stay plain CASTs (sqlglot's choice): a bad date fails rather than reads as NULL."""
    for node in list(tree.find_all(exp.TryCast)):
        target = node.to
        if not is_number(target):
            continue
        pattern = _INTEGER_TEXT if is_integer(target) else _DECIMAL_TEXT
        as_text = exp.cast(node.this.copy(), exp.DataType.build("TEXT"))
        matches = exp.RegexpLike(this=as_text, expression=exp.Literal.string(pattern))
        node.replace(exp.Case(ifs=[exp.If(this=matches, true=exp.Cast(this=node.this, to=target))]))
    return tree


def decimal_for_round(tree: exp.Expr) -> exp.Expr:
    """PostgreSQL has ``round(numeric, int)`` only: ``ROUND(x, n)`` -> ``ROUND(CAST(x AS DECIMAL), n)``."""
    for node in list(tree.find_all(exp.Round)):
        if node.args.get("decimals") is not None and not isinstance(node.this, exp.Cast):
            node.set("this", exp.cast(node.this, exp.DataType.build("DECIMAL")))
    return tree


def ordered_array_for_arg_max(tree: exp.Expr) -> exp.Expr:
    """``ARG_MAX(a, b)`` -> the first ``a`` of ``ARRAY_AGG(a ORDER BY b DESC)`` over rows where b is set."""
    for node in list(tree.find_all(exp.ArgMax, exp.ArgMin)):
        key = node.expression
        ordered = exp.Ordered(this=key.copy(), desc=isinstance(node, exp.ArgMax), nulls_first=False)
        collected = exp.ArrayAgg(this=exp.Order(this=node.this, expressions=[ordered]))
        where = exp.Where(this=exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null())))
        first = exp.Bracket(
            this=exp.Paren(this=exp.Filter(this=collected, expression=where)),
            expressions=[exp.Literal.number(1)],
            offset=1,
        )
        node.replace(first)
    return tree


def double_for_division(tree: exp.Expr) -> exp.Expr:
    """MySQL divides exact numbers to 4 decimals; DuckDB's ``/`` is floating point: cast the dividend."""
    for node in list(tree.find_all(exp.Div)):
        if not isinstance(node.this, exp.Cast):
            node.set("this", exp.cast(node.this, exp.DataType.build("DOUBLE")))
    return tree


def double_for_average(tree: exp.Expr) -> exp.Expr:
    """MySQL averages exact numbers to 4 decimals too: ``AVG(x)`` -> ``AVG(CAST(x AS DOUBLE))``."""
    for node in list(tree.find_all(exp.Avg)):
        argument = node.this
        if isinstance(argument, exp.Distinct | exp.Cast):
            continue
        node.set("this", exp.cast(argument, exp.DataType.build("DOUBLE")))
    return tree


def case_for_filter(tree: exp.Expr) -> exp.Expr:
    """MySQL has no ``agg(x) FILTER (WHERE c)``: it becomes ``agg(CASE WHEN c THEN x END)``."""
    for node in list(tree.find_all(exp.Filter)):
        aggregate, condition = node.this, node.expression.this
        if not isinstance(aggregate, exp.AggFunc):
            continue
        argument = aggregate.this
        if isinstance(argument, exp.Star) or argument is None:
            argument = exp.Literal.number(1)
        if isinstance(argument, exp.Distinct):
            values = argument.expressions
            if len(values) == 1:
                argument.set("expressions", [exp.Case(ifs=[exp.If(this=condition.copy(), true=values[0])])])
        else:
            aggregate.set("this", exp.Case(ifs=[exp.If(this=condition, true=argument)]))
        node.replace(aggregate)
    return tree


def instr_for_regexp(tree: exp.Expr) -> exp.Expr:
    """``REGEXP_LIKE`` is MySQL 8's; ``REGEXP_INSTR(x, p) > 0`` is both MySQL's and MariaDB's."""
    for node in list(tree.find_all(exp.RegexpLike)):
        found = exp.Anonymous(this="REGEXP_INSTR", expressions=[node.this, node.expression])
        node.replace(exp.GT(this=found, expression=exp.Literal.number(0)))
    return tree


def number_for_text_compared_with_number(tree: exp.Expr, schema: dict) -> exp.Expr:
    """DuckDB compares text with a number by casting the text (``t = 1`` is ``CAST(t AS BIGINT) = 1``, in
    ``=``, ``<>`` and ``IN (...)``; ``<`` and ``>`` it refuses); PostgreSQL has no such operator at all.
    The cast is written out, with the column types of ``schema`` (``{table: {column: type}}``)."""
    annotate_types(tree, schema=schema, dialect="duckdb")
    for node in list(tree.find_all(exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ)):
        _cast_text_side(node.this, node.expression)
        _cast_text_side(node.expression, node.this)
    for membership in list(tree.find_all(exp.In)):
        values = membership.expressions
        if not values:
            continue
        for value in values:
            _cast_text_side(membership.this, value)
            _cast_text_side(value, membership.this)
    return tree


def _cast_text_side(side: exp.Expr, other: exp.Expr) -> None:
    side_type, other_type = side.type, other.type
    if side_type is None or other_type is None or isinstance(side.parent, exp.Cast):
        return
    if not is_text(side_type) or not is_number(other_type):
        return
    if isinstance(side, exp.Literal):
        return  # '5' = 5: PostgreSQL reads a quoted literal as the other side's type itself
    target = "BIGINT" if is_integer(other_type) else "DOUBLE"
    cast = exp.Cast(this=side.copy(), to=exp.DataType.build(target))
    cast.type = exp.DataType.build(target)
    side.replace(cast)


RULES: dict[str, tuple[Rule, ...]] = {
    "duckdb": (),
    "postgres": (
        min_for_any_value,
        extract_for_date_part,
        null_for_failed_number_cast,
        decimal_for_round,
        ordered_array_for_arg_max,
    ),
    "mysql": (
        min_for_any_value,
        extract_for_date_part,
        null_for_failed_number_cast,
        double_for_division,
        double_for_average,
        case_for_filter,
        instr_for_regexp,
    ),
}


def rewrite_for(tree: exp.Expr, dialect: str) -> exp.Expr:
    """A copy of ``tree`` with the dialect's rules applied (the tree itself is left alone)."""
    rewritten = tree.copy()
    for rule in RULES.get(dialect, ()):
        rewritten = rule(rewritten)
    return rewritten


def render(tree: exp.Expr, dialect: str, *, identify: bool = True) -> str:
    """The tree as the dialect's SQL after its rules, every identifier quoted; TranspileError when the
    dialect cannot express part of it (sqlglot's generator would otherwise write it anyway)."""
    rewritten = rewrite_for(tree, dialect)
    lacking = unsupported_function(rewritten, dialect)
    if lacking is not None:
        raise TranspileError(f"{dialect_name(dialect)} has no {function_label(lacking)}")
    try:
        return rewritten.sql(
            dialect=dialect, identify=identify, comments=False, unsupported_level=ErrorLevel.RAISE
        )
    except UnsupportedError as error:
        raise TranspileError(f"{dialect_name(dialect)} cannot run this: {error}") from error
    except SqlglotError as error:
        raise TranspileError(f"Could not write the query for {dialect_name(dialect)}: {error}") from error


def function_label(node: exp.Expr) -> str:
    """``arg_max()``: how messages name a function node."""
    try:
        name = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__
    except (NotImplementedError, ValueError):
        name = type(node).__name__
    return f"{name.lower()}()"


def dialect_name(dialect: str) -> str:
    """``postgres`` -> ``PostgreSQL``: the dialect as messages name it."""
    return {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "duckdb": "DuckDB"}.get(dialect, dialect)
