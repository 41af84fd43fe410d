"""Rows that are not (or are) among others: "do not have", no match, set operations over keys."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import build_scope

from analytics_chat.engine.linking import LinkedSchema

from .helpers import base_tables, conjuncts_of, has_aggregate, same_column, single_column

_NEGATION = re.compile(r"\b(not|no|never|without|none|don't|doesn't|didn't|haven't|hasn't)\b", re.IGNORECASE)


def _only_columns_of(node: exp.Expression, alias: str) -> bool:
    return all(column.table == alias for column in node.find_all(exp.Column))


def _only_columns_of_other(node: exp.Expression, alias: str) -> bool:
    return all(column.table != alias for column in node.find_all(exp.Column))


def negate_membership(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """ "Students who do not have a cat": ``student JOIN pet ... WHERE pet.kind <> 'cat'`` lists students
    with some other pet; the question means students with no cat, ``student.id NOT IN (SELECT pet.owner
    ... WHERE pet.kind = 'cat')``.

    "Customers who bought a lamp but not a desk": ``... WHERE product.kind = 'lamp' AND product.kind <>
    'desk'`` (the ``<>`` says nothing beside the ``=``) keeps its joins for the lamp and gets the same NOT IN
    for the desk.

    Only when the question says "not", "no", "without"..., the outermost SELECT shows and filters nothing
    but its first table (besides such an ``=``), and a single ``<>`` on a joined table compares it with a
    value.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id WHERE b.genre <> 'poetry'")
    >>> negate_membership(draft, schema=library, question="Which authors have not written poetry?").sql()
    "SELECT a.name FROM author AS a WHERE NOT a.author_id IN (SELECT b.author_id FROM book AS b WHERE b.genre = 'poetry')"
    """
    if not _NEGATION.search(question) or not isinstance(tree, exp.Select):
        return tree
    source, joins, where = tree.args.get("from_"), tree.args.get("joins") or [], tree.args.get("where")
    if source is None or not isinstance(source.this, exp.Table) or not joins or where is None:
        return tree
    base = source.this.alias_or_name
    conjuncts = conjuncts_of(where)
    negations = [
        c
        for c in conjuncts
        if isinstance(c, exp.NEQ)
        and isinstance(c.this, exp.Column)
        and c.this.table != base
        and isinstance(c.expression, exp.Literal)
    ]
    if len(negations) != 1:
        return tree
    negation = negations[0]
    rest = [c for c in conjuncts if c is not negation]
    wanted = [c for c in rest if isinstance(c, exp.EQ) and same_column(c.this, negation.this)
              and isinstance(c.expression, exp.Literal)]  # fmt: skip
    shown = [
        *tree.expressions,
        *(c for c in rest if c not in wanted),
        *(tree.args.get("order") or exp.Order()).expressions,
    ]
    if tree.args.get("group") or not all(_only_columns_of(n, base) for n in shown):
        return tree
    moved = _joins_as_members(base, joins)
    if moved is None:
        return tree
    key, members = moved
    members = members.where(exp.EQ(this=negation.this.copy(), expression=negation.expression.copy()))
    repaired = tree.copy()
    if not wanted:
        repaired.set("joins", None)
    repaired.set(
        "where", exp.Where(this=exp.and_(*[c.copy() for c in rest], exp.Not(this=key.isin(query=members))))
    )
    return repaired


def _joins_as_members(base: str, joins: list[exp.Join]) -> tuple[exp.Column, exp.Select] | None:
    """The first table's join key and ``SELECT <its partner> FROM <the joined tables>``: the joins moved
    into a subquery, for ``key [NOT] IN (...)``. None unless the first join is one ``base.k = other.j``
    and no later join reaches back to the first table (it could not move)."""
    first_on = joins[0].args.get("on")
    later_on = [j.args.get("on") for j in joins[1:]]
    if not isinstance(first_on, exp.EQ) or any(
        on is None or not _only_columns_of_other(on, base) for on in later_on
    ):
        return None
    key = [c for c in first_on.find_all(exp.Column) if c.table == base]
    linked_key = [c for c in first_on.find_all(exp.Column) if c.table != base]
    if len(key) != 1 or len(linked_key) != 1:
        return None
    members = exp.select(linked_key[0].copy()).from_(joins[0].this.copy())
    members.set("joins", [j.copy() for j in joins[1:]] or None)
    return key[0].copy(), members


def _counts_zero(having: exp.Expression | None) -> bool:
    """``HAVING count(*) = 0`` (or ``count(x) = 0``, ``0 = count(*)``)."""
    condition = having.this if isinstance(having, exp.Having) else None
    if not isinstance(condition, exp.EQ):
        return False
    sides = (condition.this, condition.expression)
    return any(isinstance(s, exp.Count) for s in sides) and any(
        isinstance(s, exp.Literal) and s.this == "0" for s in sides
    )


def find_unmatched_rows(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``A JOIN B ... GROUP BY a.x HAVING count(*) = 0`` never holds (an inner join keeps only matched
    rows); it means the rows of A with no match in B: ``SELECT a.x FROM A WHERE a.k NOT IN (SELECT b.k
    FROM B ...)``. Only when the output, grouping and WHERE read nothing but A.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id GROUP BY a.name HAVING count(*) = 0")
    >>> find_unmatched_rows(draft, schema=library, question="").sql()
    'SELECT a.name FROM author AS a WHERE NOT a.author_id IN (SELECT b.author_id FROM book AS b)'
    """
    if not isinstance(tree, exp.Select) or not _counts_zero(tree.args.get("having")):
        return tree
    source, joins, where = tree.args.get("from_"), tree.args.get("joins") or [], tree.args.get("where")
    if source is None or not isinstance(source.this, exp.Table) or not joins:
        return tree
    if any(j.side or j.args.get("kind") not in (None, "", "INNER") for j in joins):
        return tree
    base = source.this.alias_or_name
    group = tree.args.get("group")
    shown = [*tree.expressions, *(group.expressions if group else []), *([where.this] if where else [])]
    if any(has_aggregate(node) for node in tree.expressions) or not all(
        _only_columns_of(n, base) for n in shown
    ):
        return tree
    moved = _joins_as_members(base, joins)
    if moved is None:
        return tree
    key, members = moved
    repaired = tree.copy()
    for part in ("joins", "group", "having"):
        repaired.set(part, None)
    unmatched = exp.Not(this=key.isin(query=members))
    repaired.set("where", exp.Where(this=exp.and_(where.this.copy(), unmatched) if where else unmatched))
    return repaired


def compare_set_operations_by_key(
    tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """``SELECT x.name FROM x EXCEPT SELECT y.x_id FROM y`` -> ``... WHERE x.id NOT IN (SELECT y.x_id ...)``.

    Only when the right side's one column is declared to reference the left table's key and the left
    side shows another column of that table: the two sides then hold different things and the set
    operation cannot mean what was asked.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a EXCEPT SELECT b.author_id FROM book AS b")
    >>> compare_set_operations_by_key(draft, schema=library, question="").sql()
    'SELECT a.name FROM author AS a WHERE NOT a.author_id IN (SELECT b.author_id FROM book AS b)'
    """
    if not isinstance(tree, (exp.Except, exp.Intersect)) or tree.args.get("order") or tree.args.get("limit"):
        return tree
    left, right = tree.this, tree.expression
    shown, member = single_column(left), single_column(right)
    if shown is None or member is None or left.args.get("group") or right.args.get("group"):
        return tree
    try:
        left_scope, right_scope = build_scope(left), build_scope(right)
    except sqlglot.errors.SqlglotError:
        return tree
    if left_scope is None or right_scope is None:
        return tree
    owner = base_tables(left_scope, schema.scope).get(shown.table)
    referrer = base_tables(right_scope, schema.scope).get(member.table)
    if owner is None or referrer is None:
        return tree
    key = schema.scope.join_graph.key(referrer.name, owner.name)
    if key is None or key[0].lower() != member.name.lower() or key[1].lower() == shown.name.lower():
        return tree
    condition: exp.Expr = exp.column(key[1], table=shown.table).isin(query=right.copy())
    if isinstance(tree, exp.Except):
        condition = exp.Not(this=condition)
    return left.copy().where(condition, copy=False)


def correlate_exists_subqueries(
    tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """``FROM student WHERE NOT EXISTS (SELECT 1 FROM has_pet JOIN student ON ... WHERE student.id =
    has_pet.student_id)`` joins the outer table again inside, so the condition reads the inner copy: the
    subquery is the same for every row (no row, or every row, passes). The model meant the outer row:
    the inner join of the outer table's name goes, and the condition correlates.

    Only a joined table (not the subquery's FROM) under the same name as a table of the enclosing
    SELECT, in a subquery that reads nothing of the enclosing query otherwise.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT author.name FROM author WHERE NOT EXISTS (SELECT 1 FROM book "
    ...     "JOIN author ON book.author_id = author.author_id WHERE author.author_id = book.author_id)")
    >>> correlate_exists_subqueries(draft, schema=library, question="").sql()
    'SELECT author.name FROM author WHERE NOT EXISTS(SELECT 1 FROM book WHERE author.author_id = book.author_id)'
    """
    if not isinstance(tree, exp.Select) or not tree.find(exp.Exists):
        return tree
    tree = tree.copy()
    for exists in list(tree.find_all(exp.Exists)):
        inner, outer = exists.this, exists.find_ancestor(exp.Select)
        if not isinstance(inner, exp.Select) or outer is None or inner.args.get("where") is None:
            continue
        source = inner.args.get("from_")
        first = (
            source.this.alias_or_name if source is not None and isinstance(source.this, exp.Table) else None
        )
        if not {c.table for c in inner.find_all(exp.Column)} <= _table_names(inner):
            continue  # it reads the enclosing query already
        shadowing = [
            j for j in inner.args.get("joins") or []
            if isinstance(j.this, exp.Table) and j.this.alias_or_name in _table_names(outer) - {first}
        ]  # fmt: skip
        where_tables = {c.table for c in inner.args["where"].find_all(exp.Column)}
        if len(shadowing) != 1 or shadowing[0].this.alias_or_name not in where_tables:
            continue  # the condition must name the outer table, so that it correlates once the join goes
        inner.set("joins", [j for j in inner.args["joins"] if j is not shadowing[0]] or None)
    return tree


def _table_names(select: exp.Select) -> set[str]:
    """The names (aliases) of the tables a SELECT reads in its FROM and JOINs."""
    source = select.args.get("from_")
    tables = [source.this] if source is not None else []
    tables += [j.this for j in select.args.get("joins") or []]
    return {t.alias_or_name for t in tables if isinstance(t, exp.Table)}
