"""Comparisons that cannot mean what they say: a value on the column of its code, ``=`` against many rows,
a bound no row can meet."""

from __future__ import annotations

from sqlglot import exp

from analytics_chat.engine.linking import ColumnInfo, LinkedSchema

from .helpers import column_infos, has_aggregate


def _stored(info: ColumnInfo, value: str) -> str | None:
    """The stored spelling of ``value`` in a column whose every distinct value is profiled, else None."""
    wanted = value.lower()
    return next((v for v in info.profile.get("distinct_values") or () if str(v).lower() == wanted), None)


def look_up_stored_values(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Point a text comparison at the column that stores the value: ``author.country = 'Italy'``, where that
    column's stored values are codes and 'Italy' is a value of the table its key references, becomes
    ``country IN (SELECT code FROM country WHERE name = 'Italy')``; a value stored in another case takes the
    stored spelling.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE country (code VARCHAR CHECK (code IN ('IT', 'FR')), name VARCHAR CHECK (name IN ('Italy', 'France')));
    ...     CREATE TABLE author (name VARCHAR, country VARCHAR CHECK (country IN ('IT', 'FR')) REFERENCES country (code));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a WHERE a.country = 'italy'")
    >>> look_up_stored_values(draft, schema=library, question="").sql()
    "SELECT a.name FROM author AS a WHERE a.country IN (SELECT country.code FROM country WHERE country.name = 'Italy')"
    """
    tree = tree.copy()
    view = schema.scope
    infos = column_infos(tree, view)
    for comparison in list(tree.find_all(exp.EQ)):
        column, literal = comparison.this, comparison.expression
        if not (isinstance(column, exp.Column) and isinstance(literal, exp.Literal) and literal.is_string):
            continue
        if id(column) not in infos or not infos[id(column)][1].profile.get("distinct_values"):
            continue
        table, info = infos[id(column)]
        stored = _stored(info, literal.this)
        if stored is not None:
            if stored != literal.this:
                literal.replace(exp.Literal.string(stored))
            continue
        homes = []
        for other in view.tables:
            key = view.join_graph.key(table.name, other.name) if other is not table else None
            if key is None or key[0].lower() != info.name.lower():
                continue
            homes += [
                (other, key[1], c, spelled) for c in other.columns if (spelled := _stored(c, literal.this))
            ]
        if len(homes) != 1:
            continue
        other, other_key, holder, spelled = homes[0]
        members = (
            exp.select(exp.column(other_key, table=other.name))
            .from_(exp.to_table(other.name))
            .where(exp.column(holder.name, table=other.name).eq(exp.Literal.string(spelled)))
        )
        comparison.replace(column.copy().isin(query=members))
    return tree


def compare_many_rows_with_in(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``x = (SELECT y FROM ...)`` is ``x IN (SELECT y ...)`` unless the subquery yields one row by design.

    SQLite silently takes the first row of such a subquery; DuckDB refuses it. A subquery that aggregates
    without grouping, or ends in ``LIMIT 1``, is left as it is.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title FROM book AS b WHERE b.author_id = (SELECT a.author_id FROM author AS a WHERE a.name LIKE 'A%')")
    >>> compare_many_rows_with_in(draft, schema=library, question="").sql()
    "SELECT b.title FROM book AS b WHERE b.author_id IN (SELECT a.author_id FROM author AS a WHERE a.name LIKE 'A%')"
    """
    tree = tree.copy()
    for comparison in list(tree.find_all(exp.EQ)):
        for side, other in (
            (comparison.expression, comparison.this),
            (comparison.this, comparison.expression),
        ):
            query = side.this if isinstance(side, exp.Subquery) else None
            if not isinstance(query, exp.Select) or len(query.expressions) != 1:
                continue
            limit = query.args.get("limit")
            one_row = (has_aggregate(query.expressions[0]) and not query.args.get("group")) or (
                limit is not None and limit.expression.sql() == "1"
            )
            if not one_row and not isinstance(other, exp.Subquery):
                comparison.replace(other.copy().isin(query=query.copy()))
            break
    return tree


def _table_of(column: exp.Column, select: exp.Select) -> str | None:
    """The name of the base table ``column`` reads in ``select`` (by its alias or name)."""
    tables = [t for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select]
    matches = [t.name.lower() for t in tables if t.alias_or_name == column.table or not column.table]
    return matches[0] if len(matches) == 1 else None


def _whole_table_extreme(node: exp.Expression) -> tuple[type, str, str] | None:
    """(Min or Max, table, column) for ``(SELECT min(col) FROM table)`` over the whole table."""
    query = node.this if isinstance(node, exp.Subquery) else None
    if not isinstance(query, exp.Select) or len(query.expressions) != 1 or query.args.get("joins"):
        return None
    if any(query.args.get(part) for part in ("where", "group", "having")):
        return None
    aggregate = query.expressions[0].unalias()
    source = query.args.get("from_")
    column = aggregate.this if isinstance(aggregate, (exp.Min, exp.Max)) else None
    if isinstance(column, (exp.Cast, exp.TryCast)):
        column = column.this
    if not isinstance(column, exp.Column) or source is None or not isinstance(source.this, exp.Table):
        return None
    return type(aggregate), source.this.name.lower(), column.name.lower()


def flip_impossible_extremes(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``x < (SELECT min(x) FROM t)`` holds for no row of t (nor ``x > max(x)``): the comparison the
    question meant ("more than the lowest") points the other way, so it is turned round.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title FROM book AS b WHERE b.price < (SELECT min(price) FROM book)")
    >>> flip_impossible_extremes(draft, schema=library, question="").sql()
    'SELECT b.title FROM book AS b WHERE b.price > (SELECT MIN(price) FROM book)'
    """
    tree = tree.copy()
    for comparison in list(tree.find_all(exp.LT, exp.GT)):
        left, right = comparison.this, comparison.expression
        flipped = isinstance(comparison, exp.GT)  # read as "column < extreme" after putting the column left
        if isinstance(left, exp.Subquery):
            left, right, flipped = right, left, not flipped
        column = left.this if isinstance(left, (exp.Cast, exp.TryCast)) else left
        extreme = _whole_table_extreme(right)
        select = comparison.find_ancestor(exp.Select)
        if not isinstance(column, exp.Column) or extreme is None or select is None:
            continue
        kind, table, name = extreme
        if column.name.lower() != name or _table_of(column, select) != table:
            continue
        if (kind is exp.Min and not flipped) or (kind is exp.Max and flipped):
            opposite = exp.GT if isinstance(comparison, exp.LT) else exp.LT
            comparison.replace(opposite(this=comparison.this.copy(), expression=comparison.expression.copy()))
    return tree
