"""Joins the draft lacks, needs between, writes on the wrong columns, or does not need at all."""

from __future__ import annotations

import itertools
import re

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from analytics_chat.engine.linking import LinkedSchema, SchemaView, TableInfo
from catalog.text import content_words, name_words

from .helpers import base_tables, has_aggregate, scopes

# How many missing columns add_missing_joins joins tables in for, one after the other.
MISSING_JOIN_LIMIT = 3

_ALIAS_NUMBER = re.compile(r"^[A-Za-z]+(\d+)$")


def _new_alias(select: exp.Expr, table: TableInfo, taken: set[str]) -> str:
    """T<n+1> when the query numbers its aliases T1, T2, ...; else the table's own name when free."""
    numbers = [int(m.group(1)) for alias in taken if (m := _ALIAS_NUMBER.match(alias))]
    prefixes = {alias.rstrip("0123456789") for alias in taken if _ALIAS_NUMBER.match(alias)}
    if numbers and len(prefixes) == 1:
        prefix = prefixes.pop()
        number = max(numbers) + 1
        while f"{prefix}{number}".lower() in {t.lower() for t in taken}:
            number += 1
        return f"{prefix}{number}"
    if table.name.lower() not in {t.lower() for t in taken}:
        return table.name
    number = 2
    while f"{table.name}{number}".lower() in {t.lower() for t in taken}:
        number += 1
    return f"{table.name}{number}"


def _fix_one_missing_column(tree: exp.Expression, schema: SchemaView) -> bool:
    """Join in the table one unplaceable column needs; True when something changed."""
    for scope in scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select) or not select.args.get("from_"):
            continue
        tables = base_tables(scope, schema)
        if not tables:
            continue
        for column in scope.columns:
            if column.table and column.table in scope.sources and column.table not in tables:
                continue  # a subquery or CTE: not ours to judge
            if not column.table and column.find_ancestor(exp.Select) is not select:
                continue  # a bare column of a subquery, listed here in case it is correlated
            anchor = tables.get(column.table) if column.table else None
            if column.table and anchor is None:
                # ``employee.x`` with no employee in FROM: a table the model forgot to join.
                missing = schema.table(column.table)
                if missing is None or missing.column(column.name) is None:
                    continue
                owners = [missing]
            else:
                if anchor is not None and anchor.column(column.name) is not None:
                    continue
                if any(t.column(column.name) is not None for t in tables.values()):
                    continue  # in another table of FROM: repair_misplaced_columns' job
                in_from = {t.name.lower() for t in tables.values()}
                owners = [
                    t
                    for t in schema.tables
                    if t.name.lower() not in in_from and t.column(column.name) is not None
                ]
            # Through the table the model put the column on first, else through any table of FROM.
            links: list[tuple[TableInfo, TableInfo, tuple[str, str]]] = []
            for candidates in ([anchor] if anchor is not None else [], list(tables.values())):
                links = [
                    (owner, partner, key)
                    for owner in owners
                    for partner in candidates
                    if (key := schema.join_graph.key(partner.name, owner.name)) is not None
                ]
                if links:
                    break
            if len(links) != 1:
                continue
            owner, partner, (partner_column, owner_column) = links[0]
            partner_alias = next(alias for alias, t in tables.items() if t is partner)
            if len(tables) == 1:
                # Bare columns of the one table so far stay on it, not ambiguous with the joined one.
                for other in scope.columns:
                    if not other.table and partner.column(other.name) is not None:
                        other.set("table", exp.to_identifier(partner_alias))
            alias = _new_alias(select, owner, set(scope.sources))
            condition = exp.EQ(
                this=exp.column(partner_column, table=partner_alias),
                expression=exp.column(owner_column, table=alias),
            )
            select.join(
                exp.alias_(exp.to_table(owner.name), alias, table=True),
                on=condition,
                join_type="inner",
                copy=False,
            )
            # Every mention of the same missing column (SELECT and GROUP BY, say) reads the new table.
            for same in [c for c in scope.columns if c.table == column.table and c.name == column.name]:
                same.set("table", exp.to_identifier(alias))
            return True
    return False


def add_missing_joins(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Join in the tables that columns the FROM clause lacks live in, along declared keys.

    ``T2.name`` where no table in FROM has ``name`` but a table that joins one of them (a declared key) does:
    that table is joined in and the column pointed at it.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title, b.name FROM book AS b")
    >>> add_missing_joins(draft, schema=library, question="").sql()
    'SELECT b.title, author.name FROM book AS b INNER JOIN author AS author ON b.author_id = author.author_id'
    """
    tree = tree.copy()
    for _ in range(MISSING_JOIN_LIMIT):
        if not _fix_one_missing_column(tree, schema.scope):
            break
    return tree


def bridge_joins(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Join through the missing tables when a JOIN's ON names a column its tables lack and the joined
    table has no declared key to any table before it.

    ``author JOIN sale ON author.id = sale.author_id`` where sale has no such column and no key to the
    tables before it: the tables of the shortest chain of declared keys are joined in between.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (book_id BIGINT, title VARCHAR, author_id BIGINT REFERENCES author (author_id));
    ...     CREATE TABLE loan (loan_id BIGINT, book_id BIGINT REFERENCES book (book_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a JOIN loan AS l ON a.author_id = l.author_id")
    >>> bridge_joins(draft, schema=library, question="").sql()
    'SELECT a.name FROM author AS a JOIN book AS book ON a.author_id = book.author_id JOIN loan AS l ON book.book_id = l.book_id'
    """
    tree = tree.copy()
    view = schema.scope
    for scope in scopes(tree):
        select = scope.expression
        tables = base_tables(scope, view)
        source = select.args.get("from_") if isinstance(select, exp.Select) else None
        if (
            source is None
            or not isinstance(source.this, exp.Table)
            or source.this.alias_or_name not in tables
        ):
            continue
        taken = set(scope.sources)
        earlier = [source.this.alias_or_name]
        joins: list[exp.Expression] = []
        for join in select.args.get("joins") or ():
            joins.append(join.copy())
            alias = join.this.alias_or_name if isinstance(join.this, exp.Table) else None
            target = tables.get(alias) if alias is not None else None
            condition = join.args.get("on")
            if alias is None or target is None or condition is None:
                continue
            earlier.append(alias)
            broken = any(
                (owner := tables.get(c.table)) is not None and owner.column(c.name) is None
                for c in condition.find_all(exp.Column)
            )
            before = [tables[a].name for a in earlier[:-1]]
            if not broken or any(view.join_graph.key(name, target.name) for name in before):
                continue
            path = view.join_graph.path(before, target.name, max_hops=3)
            if not path:
                continue
            # Each table between is joined in on its declared key; the JOIN itself takes the last key.
            target_join = joins.pop()
            previous = next(a for a in earlier if tables[a].name.lower() == path[0].lower())
            for here, there in itertools.pairwise(path):
                key = view.join_graph.key(here, there)
                assert key is not None  # the path runs along declared keys
                here_column, there_column = key
                if there == path[-1]:
                    there_alias = alias
                else:
                    there_table = view.table(there)
                    assert there_table is not None  # and through the schema's tables
                    there_alias = _new_alias(select, there_table, taken)
                taken.add(there_alias)
                on = exp.column(here_column, table=previous).eq(exp.column(there_column, table=there_alias))
                if there_alias == alias:
                    target_join.set("on", on)
                else:
                    joins.append(
                        exp.Join(this=exp.alias_(exp.to_table(there), there_alias, table=True), on=on)
                    )
                previous = there_alias
            joins.append(target_join)
        select.set("joins", joins or None)
    return tree


def repair_join_conditions(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``JOIN b ON a.x = a.x`` (a column equal to itself, true for every row) becomes ``a.x = b.x``.

    When nothing links b to a (no such column, no declared key), b joins every row of a to every row of
    its own; if each column read from b is one that a has too, the model meant a's: they move to a and
    b is dropped.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title FROM book AS b JOIN author AS a ON b.author_id = b.author_id")
    >>> repair_join_conditions(draft, schema=library, question="").sql()
    'SELECT b.title FROM book AS b JOIN author AS a ON b.author_id = a.author_id'
    """
    tree = tree.copy()
    for scope in scopes(tree):
        tables = base_tables(scope, schema.scope)
        for join in list(scope.expression.args.get("joins") or ()):
            condition = join.args.get("on")
            joined = join.this.alias_or_name if isinstance(join.this, exp.Table) else None
            if not isinstance(condition, exp.EQ) or joined not in tables:
                continue
            left, right = condition.this, condition.expression
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                continue
            if left.table != right.table or left.name.lower() != right.name.lower():
                continue
            owner = tables.get(left.table)
            key = schema.scope.join_graph.key(owner.name, tables[joined].name) if owner else None
            if left.table != joined and tables[joined].column(left.name) is not None:
                right.set("table", exp.to_identifier(joined))
            elif left.table != joined and key is not None and key[0].lower() == left.name.lower():
                # t1.makeid = t1.makeid joining cars_data: the declared key says t1.makeid = t2.id.
                right.replace(exp.column(key[1], table=joined))
            elif left.table == joined:
                others = [a for a, t in tables.items() if a != joined and t.column(left.name) is not None]
                if len(others) == 1:
                    left.set("table", exp.to_identifier(others[0]))
            elif owner is not None and key is None:
                _read_from_instead(scope, join, joined, left.table, owner)
    return tree


def follow_declared_keys(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``JOIN b ON a.x = b.y`` where a declared key pairs a.x with b.z, not b.y, becomes ``a.x = b.z``.

    E.g. a product code joined to the products' numeric id instead of their code column, which DuckDB
    refuses (text against a number) or matches nothing. When no key speaks of either column, the one
    key declared between the two tables replaces the pair.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title FROM book AS b JOIN author AS a ON b.author_id = a.name")
    >>> follow_declared_keys(draft, schema=library, question="").sql()
    'SELECT b.title FROM book AS b JOIN author AS a ON b.author_id = a.author_id'
    """
    tree = tree.copy()
    for scope in scopes(tree):
        tables = base_tables(scope, schema.scope)
        for join in scope.expression.args.get("joins") or ():
            condition = join.args.get("on")
            if condition is None:
                continue
            for pair in condition.find_all(exp.EQ):
                left, right = pair.this, pair.expression
                if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                    continue
                if left.table == right.table or left.table not in tables or right.table not in tables:
                    continue
                keys = schema.scope.join_graph.keys(tables[left.table].name, tables[right.table].name)
                for this, that, column_of in ((left, right, 0), (right, left, 1)):
                    # The columns of that's table which a key pairs with this column.
                    targets = {k[1 - column_of].lower(): k[1 - column_of] for k in keys
                               if k[column_of].lower() == this.name.lower()}  # fmt: skip
                    if not targets:
                        continue
                    if that.name.lower() not in targets and len(targets) == 1:
                        that.set("this", exp.to_identifier(next(iter(targets.values()))))
                    break
                else:
                    # No key speaks of either column. Two differently named columns (same names are a
                    # deliberate pairing) between tables with one declared key: compare that key's columns
                    # (``orders.order_id = customers.customer_id`` pairs two ids).
                    same_table = tables[left.table].name.lower() == tables[right.table].name.lower()
                    if len(keys) == 1 and left.name.lower() != right.name.lower() and not same_table:
                        left.set("this", exp.to_identifier(keys[0][0]))
                        right.set("this", exp.to_identifier(keys[0][1]))
    return tree


def _read_from_instead(scope: Scope, join: exp.Join, joined: str, alias: str, table: TableInfo) -> None:
    """Drop ``join`` and read its alias's columns from ``alias`` when ``table`` has every one of them."""
    on_columns = {id(c) for c in join.args["on"].find_all(exp.Column)}
    uses = [c for c in scope.expression.find_all(exp.Column) if c.table == joined and id(c) not in on_columns]
    nested = [c for c in uses if c.find_ancestor(exp.Select) is not scope.expression]
    if (
        not uses
        or nested
        or any(table.column(c.name) is None for c in uses)
        or any(isinstance(s, exp.Star) for s in scope.expression.expressions)
    ):
        return
    for column in uses:
        column.set("table", exp.to_identifier(alias))
    join.pop()


def _question_names(words: set[str], table: TableInfo, others: list[TableInfo]) -> bool:
    """Does the question name this table by a word of its name that the other tables' names lack?"""
    other_words = {w for t in others for w in name_words(t.name)}
    own = [w for w in name_words(table.name) if w not in other_words and len(w) > 2]
    for word in own:
        for asked in words:
            if asked == word or (len(asked) >= 4 and asked in word and asked not in other_words):
                return True
    return False


def prune_unused_joins(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """Drop joined tables used only by their own ON condition, when the question does not name them
    or the ON reads nothing but the joined table (it only multiplies or filters rows nobody asked about).

    The same for the FROM table used only by the first join's ON: the first joined table takes its place.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT b.title FROM book AS b JOIN author AS a ON b.author_id = a.author_id ORDER BY b.price DESC")
    >>> prune_unused_joins(draft, schema=library, question="Which books cost the most?").sql()
    'SELECT b.title FROM book AS b ORDER BY b.price DESC'
    """
    tree = tree.copy()
    words = content_words(question)
    valued = {m.table.lower() for m in schema.value_matches}
    for scope in scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        tables = base_tables(scope, schema.scope)
        joins = list(select.args.get("joins") or ())
        for join in joins:
            if not isinstance(join.this, exp.Table) or join.args.get("kind") not in (None, "", "INNER"):
                continue
            if join.side and join.side.upper() != "LEFT":
                continue
            alias = join.this.alias_or_name
            table = tables.get(alias)
            condition = join.args.get("on")
            if table is None or condition is None or table.name.lower() in valued:
                continue
            if not _read_only_by(condition, alias, select):
                continue
            others = [t for a, t in tables.items() if a != alias]
            # An ON that reads only the joined table links it to nothing: named or not, it only repeats rows.
            links = any(c.table != alias for c in condition.find_all(exp.Column))
            if not others or (links and _question_names(words, table, others)):
                continue
            join.pop()
        _prune_unused_from(select, tables, words, valued)
    return tree


def _read_only_by(condition: exp.Expression, alias: str, select: exp.Select) -> bool:
    """Is ``alias`` read by this filter-free ON condition and nowhere else in ``select`` (nor by ``*``)?

    Uses are looked for in this SELECT and its subqueries, not in the other half of a set operation that
    reuses the alias.
    """
    if any(condition.find_all(exp.Literal)) or any(isinstance(s, exp.Star) for s in select.expressions):
        return False  # the ON carries a filter, or every column is shown
    on_columns = {id(c) for c in condition.find_all(exp.Column)}
    return not any(c.table == alias and id(c) not in on_columns for c in select.find_all(exp.Column))


def _prune_unused_from(
    select: exp.Select, tables: dict[str, TableInfo], words: set[str], valued: set[str]
) -> None:
    source, joins = select.args.get("from_"), select.args.get("joins") or []
    if source is None or not isinstance(source.this, exp.Table) or not joins:
        return
    first = joins[0]
    alias, condition = source.this.alias_or_name, first.args.get("on")
    table = tables.get(alias)
    if (
        table is None
        or condition is None
        or not isinstance(first.this, exp.Table)
        or table.name.lower() in valued
    ):
        return
    if first.args.get("kind") not in (None, "", "INNER") or first.side:
        return
    if not _read_only_by(condition, alias, select):
        return
    if any(select.find_all(exp.Count)):
        return  # what a count counts is the joined rows, the first table's among them
    others = [t for a, t in tables.items() if a != alias]
    if not others or _question_names(words, table, others):
        return
    select.set("from_", exp.From(this=first.this.pop()))
    first.pop()


def deduplicate_joined_rows(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """``SELECT owner.name FROM owner JOIN dog ...`` lists each owner once, not once per dog.

    A join repeats the rows of the "one" side for every match on the other; a list of names or dates that
    a question asks for ("which owners have a dog") means each once. Only the outermost plain SELECT with
    a join and no aggregate, grouping, limit or ``*``.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> library = schema('''
    ...     CREATE TABLE author (author_id BIGINT, name VARCHAR);
    ...     CREATE TABLE book (title VARCHAR, genre VARCHAR, price DOUBLE, author_id BIGINT REFERENCES author (author_id));
    ... ''')
    >>> draft = parse_one("SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id")
    >>> deduplicate_joined_rows(draft, schema=library, question="").sql()
    'SELECT DISTINCT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id'
    """
    if not isinstance(tree, exp.Select) or not tree.args.get("joins"):
        return tree
    if tree.args.get("distinct") or tree.args.get("group") or tree.args.get("limit"):
        return tree
    if any(isinstance(p, exp.Star) or has_aggregate(p) for p in tree.expressions):
        return tree
    tree = tree.copy()
    tree.set("distinct", exp.Distinct())
    return tree
