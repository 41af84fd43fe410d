"""Aggregates and GROUP BY: conditions on aggregates, columns beside the groups, the groups' labels,
the measures that rank rows and the names beside keys."""

from __future__ import annotations

import re

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema, TableInfo
from catalog.column_types import duckdb_type, is_text
from catalog.text import name_words

from .helpers import ORDERING, column_infos, conjuncts_of, is_number, same_column


def _own_aggregate(node: exp.Expr) -> bool:
    """An aggregate of this query itself, not one inside a subquery of the condition."""
    return any(isinstance(n, exp.AggFunc) for n in node.walk(prune=lambda n: isinstance(n, exp.Subquery)))


def move_aggregates_to_having(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Move the WHERE conditions that aggregate (``count(*) > 2``) to HAVING, grouping if needed.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id WHERE count(b.title) > 2")
    >>> move_aggregates_to_having(draft, schema=library, question="").sql()
    'SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id GROUP BY a.name HAVING COUNT(b.title) > 2'
    """
    tree = tree.copy()
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        if where is None:
            continue
        conjuncts = conjuncts_of(where)
        moving = [c for c in conjuncts if _own_aggregate(c)]
        if not moving:
            continue
        staying = [c for c in conjuncts if c not in moving]
        select.set("where", exp.Where(this=exp.and_(*[c.copy() for c in staying])) if staying else None)
        having = select.args.get("having")
        conditions = ([having.this] if having is not None else []) + [c.copy() for c in moving]
        select.set("having", exp.Having(this=exp.and_(*conditions)))
        if select.args.get("group") is None:
            plain = [p.unalias().copy() for p in select.expressions if isinstance(p.unalias(), exp.Column)]
            if plain:
                select.set("group", exp.Group(expressions=plain))
    return tree


_COMPARATIVE = r"(?:less|fewer|shorter|smaller|lower|below|under|more|greater|larger|bigger|higher|longer|above|over|at least|at most)"


# "regions whose average delivery time is longer than 3 days": the verb ties the comparison to the aggregate.
_AGGREGATE_COMPARED = {
    exp.Avg: re.compile(
        rf"\b(?:average|mean)\b(?:\s+[\w-]+){{1,4}}?\s+(?:is|are|was|were)\s+(?:\w+\s+)?{_COMPARATIVE}\b",
        re.I,
    ),
    exp.Sum: re.compile(
        rf"\btotal\b(?:\s+[\w-]+){{1,4}}?\s+(?:is|are|was|were)\s+(?:\w+\s+)?{_COMPARATIVE}\b", re.I
    ),
}


def move_compared_aggregates_to_having(
    tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """``SELECT avg(x) ... WHERE x < 72 GROUP BY g`` for "groups whose average x is less than 72": the
    condition is on the aggregate the query shows, ``HAVING avg(x) < 72``.

    Only when the question ties "average" (or "total") to a comparison with a verb ("is longer than"),
    since "the average age of students older than 20" compares rows, and the query groups and shows
    exactly one such aggregate of the compared column.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.genre, avg(b.price) FROM book AS b WHERE b.price > 20 GROUP BY b.genre")
    >>> move_compared_aggregates_to_having(draft, schema=library, question="Which genres have an average price that is more than 20?").sql()
    'SELECT b.genre, AVG(b.price) FROM book AS b GROUP BY b.genre HAVING AVG(b.price) > 20'
    """
    kinds = [kind for kind, wording in _AGGREGATE_COMPARED.items() if wording.search(question)]
    if len(kinds) != 1 or not isinstance(tree, exp.Select) or tree.args.get("group") is None:
        return tree
    where = tree.args.get("where")
    if where is None:
        return tree
    shown = [node for e in tree.expressions for node in e.find_all(kinds[0])]
    conjuncts = conjuncts_of(where)
    moving = [
        c for c in conjuncts
        if isinstance(c, ORDERING) and isinstance(c.this, exp.Column) and is_number(c.expression)
        and len([a for a in shown if same_column(a.this, c.this)]) == 1
    ]  # fmt: skip
    if len(moving) != 1:
        return tree
    condition = moving[0]
    aggregate = next(a for a in shown if same_column(a.this, condition.this))
    repaired = tree.copy()
    staying = [c.copy() for c in conjuncts if c is not condition]
    repaired.set("where", exp.Where(this=exp.and_(*staying)) if staying else None)
    compared = condition.copy()
    compared.set("this", aggregate.copy())
    having = tree.args.get("having")
    repaired.set("having", exp.Having(this=exp.and_(having.this.copy(), compared) if having else compared))
    return repaired


def pick_any_value_of_ungrouped(
    tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """A plain column shown (or ordered by) beside a GROUP BY that does not list it becomes
    ``ANY_VALUE(column)``: the groups stay the ones the query names, as SQLite (which allows the bare
    column) would read it; DuckDB refuses the bare column. Grouping by it instead would split the
    groups the question asked for ("for each type") by another column.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.genre, b.title, count(*) FROM book AS b GROUP BY b.genre")
    >>> pick_any_value_of_ungrouped(draft, schema=library, question="").sql()
    'SELECT b.genre, ANY_VALUE(b.title) AS title, COUNT(*) FROM book AS b GROUP BY b.genre'
    """
    tree = tree.copy()
    for select in list(tree.find_all(exp.Select)):
        group = select.args.get("group")
        if group is None or any(isinstance(g, exp.Literal) for g in group.expressions):
            continue
        grouped = {g.sql() for g in group.expressions}
        output_names = {p.alias_or_name.lower() for p in select.expressions}
        for projection in list(select.expressions):
            value = projection.unalias()
            if not isinstance(value, exp.Column) or value.sql() in grouped:
                continue
            picked = exp.AnyValue(this=value.copy())
            if isinstance(projection, exp.Alias):
                value.replace(picked)
            else:
                projection.replace(exp.alias_(picked, value.name))
        for ordered in (select.args.get("order") or exp.Order()).expressions:
            value = ordered.this
            if not isinstance(value, exp.Column) or value.sql() in grouped:
                continue
            if not value.table and value.name.lower() in output_names:
                continue  # an output name
            value.replace(exp.AnyValue(this=value.copy()))
    return tree


def show_group_columns(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``avg(weight) ... GROUP BY year`` also shows year: a number per group is unreadable without its label.

    Only the outermost SELECT (a subquery's columns are fixed by where it is used, and a set operation's
    by its other side), and only plain grouped columns that are not shown already.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema("CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE)")
    >>> draft = parse_one("SELECT avg(b.price) FROM book AS b GROUP BY b.genre")
    >>> show_group_columns(draft, schema=library, question="").sql()
    'SELECT AVG(b.price), b.genre FROM book AS b GROUP BY b.genre'
    """
    if not isinstance(tree, exp.Select) or tree.args.get("group") is None:
        return tree
    tree = tree.copy()
    shown = {p.unalias().sql() for p in tree.expressions}
    if any(isinstance(p, exp.Star) for p in tree.expressions):
        return tree
    for grouped in tree.args["group"].expressions:
        if isinstance(grouped, exp.Column) and grouped.sql() not in shown:
            tree.select(grouped.copy(), copy=False)
            shown.add(grouped.sql())
    return tree


def show_ranking_measures(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``SELECT name ... ORDER BY sum(amount) DESC LIMIT 3`` also shows ``sum(amount)``: "the 3 products
    with the most revenue" reads with the revenue that ranks them.

    Only the outermost SELECT with a LIMIT, and not a DISTINCT one (another column changes what is
    distinct); an aggregate it orders by and does not show yet is added.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema("CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE)")
    >>> draft = parse_one("SELECT b.genre FROM book AS b GROUP BY b.genre ORDER BY avg(b.price) DESC LIMIT 2")
    >>> show_ranking_measures(draft, schema=library, question="").sql()
    'SELECT b.genre, AVG(b.price) FROM book AS b GROUP BY b.genre ORDER BY AVG(b.price) DESC LIMIT 2'
    """
    if not isinstance(tree, exp.Select) or tree.args.get("limit") is None or tree.args.get("distinct"):
        return tree
    order = tree.args.get("order")
    if order is None or any(isinstance(p, exp.Star) for p in tree.expressions):
        return tree
    shown = {p.unalias().sql() for p in tree.expressions} | {p.alias for p in tree.expressions if p.alias}
    missing = [o.this for o in order.expressions if o.this.find(exp.AggFunc) and o.this.sql() not in shown]
    if not missing:
        return tree
    tree = tree.copy()
    for measure in missing:
        tree.select(measure.copy(), copy=False)
    return tree


def _label_column(table: TableInfo) -> str | None:
    """The column that names a table's rows for people: ``name``, ``title`` or ``<noun>_name``."""
    noun = name_words(table.name)[-1:] if name_words(table.name) else []
    for column in table.columns:
        words = name_words(column.name)
        if is_text(duckdb_type(column.data_type or "VARCHAR", "duckdb")) and words in (
            ["name"],
            ["title"],
            ["full", "name"],
            [*noun, "name"],
        ):
            return column.name
    return None


def show_names_beside_keys(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``SELECT p.product_id ... LIMIT 1`` also shows ``p.name``: "the most expensive product" is read by
    its name, not its key. The outermost SELECT only, for a table's own key shown as a plain column
    (grouped by, when the query groups) with no label of that table shown yet.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE item (item_id BIGINT PRIMARY KEY, name VARCHAR, price DOUBLE)")
    >>> draft = parse_one("SELECT i.item_id, i.price FROM item AS i ORDER BY i.price DESC LIMIT 1")
    >>> show_names_beside_keys(draft, schema=shop, question="").sql()
    'SELECT i.item_id, i.name, i.price FROM item AS i ORDER BY i.price DESC LIMIT 1'
    """
    if not isinstance(tree, exp.Select) or any(isinstance(p, exp.Star) for p in tree.expressions):
        return tree
    group = tree.args.get("group")
    if group is None and any(p.find(exp.AggFunc) for p in tree.expressions):
        return tree
    infos = column_infos(tree, schema.scope)
    shown = {(c.table, c.name.lower()) for p in tree.expressions for c in p.find_all(exp.Column)}
    additions: list[tuple[int, exp.Column]] = []
    for position, projection in enumerate(tree.expressions):
        key = projection.unalias()
        found = infos.get(id(key)) if isinstance(key, exp.Column) else None
        if found is None or not found[1].is_primary_key:
            continue
        label = _label_column(found[0])
        if label is None or (key.table, label.lower()) in shown:
            continue
        if group is not None and not any(same_column(g, key) for g in group.expressions):
            continue
        additions.append((position + 1, exp.column(label, table=key.table)))
        shown.add((key.table, label.lower()))
    if not additions:
        return tree
    tree = tree.copy()
    for offset, (position, column) in enumerate(additions):
        tree.expressions.insert(position + offset, column)
        if tree.args.get("group") is not None:
            tree.args["group"].append("expressions", column.copy())
    return tree
