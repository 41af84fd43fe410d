"""Deterministic repairs of a model's SQL draft, on the sqlglot AST, before it is bound by DuckDB.

Each repair fixes one slip that small models make often and that a correction round rarely fixes, and
each leaves a query alone unless it is clearly broken or clearly not what was asked:

- ``respell_columns``: ``order_date`` where a table in FROM has ``OrderDate``: the one column spelled the
  same but for case and underscores.
- ``add_missing_joins``: ``T2.name`` where no table in FROM has ``name`` but a table that joins one of
  them (a declared key) does: that table is joined in and the column pointed at it.
- ``bridge_joins``: ``author JOIN sale ON author.id = sale.author_id`` where sale has
  no such column and no key to the tables before it: the tables of the shortest chain of declared keys
  are joined in between.
- ``repair_join_conditions``: ``JOIN b ON a.id = a.id`` (both sides the same column) becomes
  ``a.id = b.id``, or ``a.id = b.x`` when a declared key joins a.id to b.x.
- ``prune_unused_joins``: a joined table that nothing but its own ON condition uses, and that the
  question does not name, is dropped (it only multiplies or filters rows nobody asked about).
- ``cast_text_numbers``: a text column averaged, summed or compared with a number is read as a number
  (``TRY_CAST(col AS DOUBLE)``), which DuckDB otherwise refuses; the model's own CAST of one becomes a
  TRY_CAST.
- ``align_membership_types``: ``shop_id IN (SELECT shop_id ...)`` between a number column and a
  text column (loosely typed imports store keys both ways), which DuckDB refuses, compares both as text.
- ``set_operation_keys``: ``SELECT name FROM author EXCEPT SELECT author_id FROM book`` compares names
  with ids; it means the authors whose key is not (or, for INTERSECT, is) among them.
- ``values_where_stored``: ``author.country = 'Italy'`` where that column's stored values are codes
  and 'Italy' is a value of the table its key references: ``country IN (SELECT code FROM country
  WHERE name = 'Italy')``; a value stored in another case takes the stored spelling.
- ``single_row_comparisons``: ``x = (SELECT y ...)`` over many rows (an error in DuckDB) is ``x IN (...)``.
- ``aggregates_to_having``: ``WHERE count(*) > 2`` (which no database accepts) is a HAVING condition,
  grouped by the plain columns the SELECT shows.
- ``any_value_of_ungrouped``: a plain column selected beside a GROUP BY that lacks it is read as
  ``ANY_VALUE(column)``, as SQLite reads the bare column (DuckDB refuses it).
- ``negated_membership``: "students who do not have a cat" as ``NOT IN`` the cat owners, not as a join
  to pets that are not cats.
- ``distinct_joined_rows``: a plain list over a join shows each row once, not once per match.

The functions after the guard expect qualified SQL (every column ``alias.column``), which the guard
produces.
"""

from __future__ import annotations

import itertools
import re
from collections import deque

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope, traverse_scope

from analytics_chat.engine.linking import (
    ColumnInfo,
    Join,
    LinkedSchema,
    SchemaView,
    TableInfo,
    content_words,
    name_words,
)

_ALIAS_NUMBER = re.compile(r"^[A-Za-z]+(\d+)$")
_TEXT_TYPES = ("VARCHAR", "TEXT", "CHAR", "STRING")
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)


def _scopes(tree: exp.Expression) -> list[Scope]:
    try:
        return traverse_scope(tree)
    except sqlglot.errors.SqlglotError:
        return []


def _base_tables(scope: Scope, schema: SchemaView) -> dict[str, TableInfo]:
    """alias -> catalog table, for the base tables in this scope's FROM and JOINs."""
    found: dict[str, TableInfo] = {}
    for alias, source in scope.sources.items():
        if isinstance(source, exp.Table):
            table = schema.table(source.name)
            if table is not None:
                found[alias] = table
    return found


def _declared_keys(a: str, b: str, joins: list[Join]) -> list[tuple[str, str]]:
    """(column of a, column of b) of every declared key between tables a and b, in declaration order."""
    keys = []
    for j in joins:
        if j.from_table.lower() == a.lower() and j.to_table.lower() == b.lower():
            keys.append((j.from_column, j.to_column))
        if j.to_table.lower() == a.lower() and j.from_table.lower() == b.lower():
            keys.append((j.to_column, j.from_column))
    return keys


def _direct_join(a: str, b: str, joins: list[Join]) -> tuple[str, str] | None:
    """(column of a, column of b) of a declared key between tables a and b, if there is one."""
    keys = _declared_keys(a, b, joins)
    return keys[0] if keys else None


def _new_alias(select: exp.Select, table: TableInfo, taken: set[str]) -> str:
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
    for scope in _scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select) or not select.args.get("from_"):
            continue
        tables = _base_tables(scope, schema)
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
                    if (key := _direct_join(partner.name, owner.name, schema.joins)) is not None
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


def _spelling(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def respell_columns(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """Give a column name no table in FROM has the spelling of the one column it differs from only in
    case and separators (``order_date`` -> ``OrderDate``): the grammar lets such a name through as an output
    alias, and the correction round rarely finds the stored spelling."""
    tree = tree.copy()
    for scope in _scopes(tree):
        tables = _base_tables(scope, linked.scope)
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


def add_missing_joins(tree: exp.Expression, linked: LinkedSchema, limit: int = 3) -> exp.Expression:
    """Join in the tables that columns the FROM clause lacks live in, along declared keys."""
    tree = tree.copy()
    for _ in range(limit):
        if not _fix_one_missing_column(tree, linked.scope):
            break
    return tree


def _key_path(starts: list[str], goal: str, joins: list[Join], hops: int = 3) -> list[str]:
    """The shortest chain of table names from one of ``starts`` to ``goal`` along declared keys; [] when
    there is none within ``hops`` keys."""
    goal = goal.lower()
    paths = deque([[start] for start in starts])
    seen = {start.lower() for start in starts}
    while paths:
        path = paths.popleft()
        if len(path) > hops:
            continue
        for j in joins:
            for here, there in ((j.from_table, j.to_table), (j.to_table, j.from_table)):
                if here.lower() != path[-1].lower() or there.lower() in seen:
                    continue
                if there.lower() == goal:
                    return [*path, there]
                seen.add(there.lower())
                paths.append([*path, there])
    return []


def bridge_joins(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """Join through the missing tables when a JOIN's ON names a column its tables lack and the joined
    table has no declared key to any table before it."""
    tree = tree.copy()
    schema = linked.scope
    for scope in _scopes(tree):
        select = scope.expression
        tables = _base_tables(scope, schema)
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
            target, condition = tables.get(alias), join.args.get("on")
            if target is None or condition is None:
                continue
            earlier.append(alias)
            broken = any(
                (owner := tables.get(c.table)) is not None and owner.column(c.name) is None
                for c in condition.find_all(exp.Column)
            )
            before = [tables[a].name for a in earlier[:-1]]
            if not broken or any(_direct_join(name, target.name, schema.joins) for name in before):
                continue
            path = _key_path(before, target.name, schema.joins)
            if not path:
                continue
            # Each table between is joined in on its declared key; the JOIN itself takes the last key.
            target_join = joins.pop()
            previous = next(a for a in earlier if tables[a].name.lower() == path[0].lower())
            for here, there in itertools.pairwise(path):
                here_column, there_column = _direct_join(here, there, schema.joins)
                there_alias = alias if there == path[-1] else _new_alias(select, schema.table(there), taken)
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


def repair_join_conditions(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """``JOIN b ON a.x = a.x`` (a column equal to itself, true for every row) becomes ``a.x = b.x``.

    When nothing links b to a (no such column, no declared key), b joins every row of a to every row of
    its own; if each column read from b is one that a has too, the model meant a's: they move to a and
    b is dropped.
    """
    tree = tree.copy()
    for scope in _scopes(tree):
        tables = _base_tables(scope, linked.scope)
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
            key = _direct_join(owner.name, tables[joined].name, linked.scope.joins) if owner else None
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


def follow_declared_keys(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """``JOIN b ON a.x = b.y`` where a declared key pairs a.x with b.z, not b.y, becomes ``a.x = b.z``.

    E.g. a product code joined to the products' numeric id instead of their code column, which DuckDB
    refuses (text against a number) or matches nothing. When no key speaks of either column, the one
    key declared between the two tables replaces the pair.
    """
    tree = tree.copy()
    for scope in _scopes(tree):
        tables = _base_tables(scope, linked.scope)
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
                keys = _declared_keys(tables[left.table].name, tables[right.table].name, linked.scope.joins)
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


def prune_unused_joins(tree: exp.Expression, linked: LinkedSchema, question: str) -> exp.Expression:
    """Drop joined tables used only by their own ON condition, when the question does not name them
    or the ON reads nothing but the joined table.

    The same for the FROM table used only by the first join's ON: the first joined table takes its place.
    """
    tree = tree.copy()
    words = content_words(question)
    valued = {m.table.lower() for m in linked.value_matches}
    for scope in _scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        tables = _base_tables(scope, linked.scope)
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


def _is_text_type(info: ColumnInfo) -> bool:
    return (info.data_type or "VARCHAR").upper().startswith(_TEXT_TYPES)


def _is_text(column: exp.Column, tables: dict[str, TableInfo]) -> bool:
    table = tables.get(column.table)
    info = table.column(column.name) if table is not None else None
    return info is not None and _is_text_type(info)


def _is_number(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


def _is_numeric_query(node: exp.Expression) -> bool:
    """``(SELECT avg(...) ...)``: a scalar subquery whose one column is an average, a sum or a count."""
    query = node.this if isinstance(node, exp.Subquery) else None
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        return False
    return isinstance(query.expressions[0].unalias(), (exp.Avg, exp.Sum, exp.Count))


def _as_number(column: exp.Column) -> exp.Expression:
    return exp.TryCast(this=column.copy(), to=exp.DataType.build("DOUBLE"))


def cast_text_numbers(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """Read a text column as a number where the query treats it as one (avg, sum, < 10, BETWEEN 1 AND 5)."""
    tree = tree.copy()
    for scope in _scopes(tree):
        tables = _base_tables(scope, linked.scope)
        for column in list(scope.columns):
            if not _is_text(column, tables):
                continue
            parent = column.parent
            if type(parent) is exp.Cast and parent.to.is_type(*exp.DataType.NUMERIC_TYPES):
                # Stored text like 'null' or 'n/a' makes CAST fail the whole query; TRY_CAST reads NULL.
                parent.replace(exp.TryCast(this=column.copy(), to=parent.to.copy()))
            elif isinstance(parent, (exp.Avg, exp.Sum)) and parent.this is column:
                column.replace(_as_number(column))
            elif isinstance(parent, _ORDERING):
                other = parent.expression if parent.this is column else parent.this
                if _is_number(other) or _is_numeric_query(other):
                    column.replace(_as_number(column))
            elif (
                isinstance(parent, exp.Between)
                and parent.this is column
                and _is_number(parent.args["low"])
                and _is_number(parent.args["high"])
            ):
                column.replace(_as_number(column))
    return tree


def _column_infos(tree: exp.Expression, schema: SchemaView) -> dict[int, tuple[TableInfo, ColumnInfo]]:
    """id(column node) -> (catalog table, catalog column), for every base-table column in any scope."""
    found: dict[int, tuple[TableInfo, ColumnInfo]] = {}
    for scope in _scopes(tree):
        tables = _base_tables(scope, schema)
        for column in scope.columns:
            table = tables.get(column.table)
            info = table.column(column.name) if table is not None else None
            if info is not None:
                found[id(column)] = (table, info)
    return found


def _single_column(select: exp.Expression) -> exp.Column | None:
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return None
    value = select.expressions[0].unalias()
    return value if isinstance(value, exp.Column) else None


def align_membership_types(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """Compare a number column ``IN (SELECT text_column ...)`` (or the reverse) as text on both sides."""
    tree = tree.copy()
    infos = _column_infos(tree, linked.scope)
    for membership in list(tree.find_all(exp.In)):
        query = membership.args.get("query")
        left, right = (
            membership.this,
            _single_column(query.this if isinstance(query, exp.Subquery) else query),
        )
        if id(left) not in infos or right is None or id(right) not in infos:
            continue
        left_text, right_text = _is_text_type(infos[id(left)][1]), _is_text_type(infos[id(right)][1])
        if left_text == right_text:
            continue
        number = right if left_text else left
        number.replace(exp.Cast(this=number.copy(), to=exp.DataType.build("VARCHAR")))
    return tree


def set_operation_keys(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """``SELECT x.name FROM x EXCEPT SELECT y.x_id FROM y`` -> ``... WHERE x.id NOT IN (SELECT y.x_id ...)``.

    Only when the right side's one column is declared to reference the left table's key and the left
    side shows another column of that table: the two sides then hold different things and the set
    operation cannot mean what was asked.
    """
    if not isinstance(tree, (exp.Except, exp.Intersect)) or tree.args.get("order") or tree.args.get("limit"):
        return tree
    left, right = tree.this, tree.expression
    shown, member = _single_column(left), _single_column(right)
    if shown is None or member is None or left.args.get("group") or right.args.get("group"):
        return tree
    try:
        left_scope, right_scope = build_scope(left), build_scope(right)
    except sqlglot.errors.SqlglotError:
        return tree
    if left_scope is None or right_scope is None:
        return tree
    owner = _base_tables(left_scope, linked.scope).get(shown.table)
    referrer = _base_tables(right_scope, linked.scope).get(member.table)
    if owner is None or referrer is None:
        return tree
    key = _direct_join(referrer.name, owner.name, linked.scope.joins)
    if key is None or key[0].lower() != member.name.lower() or key[1].lower() == shown.name.lower():
        return tree
    condition = exp.column(key[1], table=shown.table).isin(query=right.copy())
    if isinstance(tree, exp.Except):
        condition = exp.Not(this=condition)
    return left.copy().where(condition, copy=False)


def _stored(info: ColumnInfo, value: str) -> str | None:
    """The stored spelling of ``value`` in a column whose every distinct value is profiled, else None."""
    wanted = value.lower()
    return next((v for v in info.profile.get("distinct_values") or () if str(v).lower() == wanted), None)


def values_where_stored(tree: exp.Expression, linked: LinkedSchema) -> exp.Expression:
    """Point a text comparison at the column that stores the value (see the module docstring)."""
    tree = tree.copy()
    schema = linked.scope
    infos = _column_infos(tree, schema)
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
        for other in schema.tables:
            key = _direct_join(table.name, other.name, schema.joins) if other is not table else None
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


def single_row_comparisons(tree: exp.Expression) -> exp.Expression:
    """``x = (SELECT y FROM ...)`` is ``x IN (SELECT y ...)`` unless the subquery yields one row by design.

    SQLite silently takes the first row of such a subquery; DuckDB refuses it. A subquery that aggregates
    without grouping, or ends in ``LIMIT 1``, is left as it is.
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
            one_row = (_has_aggregate(query.expressions[0]) and not query.args.get("group")) or (
                limit is not None and limit.expression.sql() == "1"
            )
            if not one_row and not isinstance(other, exp.Subquery):
                comparison.replace(other.copy().isin(query=query.copy()))
            break
    return tree


def _has_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.AggFunc) for n in node.walk()) or isinstance(node, exp.AggFunc)


def _conjuncts(where: exp.Where) -> list[exp.Expression]:
    """The conditions a WHERE (or HAVING) ANDs together."""
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def _own_aggregate(node: exp.Expression) -> bool:
    """An aggregate of this query itself, not one inside a subquery of the condition."""
    return any(isinstance(n, exp.AggFunc) for n in node.walk(prune=lambda n: isinstance(n, exp.Subquery)))


def aggregates_to_having(tree: exp.Expression) -> exp.Expression:
    """Move the WHERE conditions that aggregate (``count(*) > 2``) to HAVING, grouping if needed."""
    tree = tree.copy()
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        if where is None:
            continue
        conjuncts = _conjuncts(where)
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


def compared_aggregates_to_having(tree: exp.Expression, question: str) -> exp.Expression:
    """``SELECT avg(x) ... WHERE x < 72 GROUP BY g`` for "groups whose average x is less than 72": the
    condition is on the aggregate the query shows, ``HAVING avg(x) < 72``.

    Only when the question ties "average" (or "total") to a comparison with a verb ("is longer than"),
    since "the average age of students older than 20" compares rows, and the query groups and shows
    exactly one such aggregate of the compared column.
    """
    kinds = [kind for kind, wording in _AGGREGATE_COMPARED.items() if wording.search(question)]
    if len(kinds) != 1 or not isinstance(tree, exp.Select) or tree.args.get("group") is None:
        return tree
    where = tree.args.get("where")
    if where is None:
        return tree
    shown = [node for e in tree.expressions for node in e.find_all(kinds[0])]
    conjuncts = _conjuncts(where)
    moving = [
        c for c in conjuncts
        if isinstance(c, _ORDERING) and isinstance(c.this, exp.Column) and _is_number(c.expression)
        and len([a for a in shown if _same_column(a.this, c.this)]) == 1
    ]  # fmt: skip
    if len(moving) != 1:
        return tree
    condition = moving[0]
    aggregate = next(a for a in shown if _same_column(a.this, condition.this))
    repaired = tree.copy()
    staying = [c.copy() for c in conjuncts if c is not condition]
    repaired.set("where", exp.Where(this=exp.and_(*staying)) if staying else None)
    compared = condition.copy()
    compared.set("this", aggregate.copy())
    having = tree.args.get("having")
    repaired.set("having", exp.Having(this=exp.and_(having.this.copy(), compared) if having else compared))
    return repaired


def any_value_of_ungrouped(tree: exp.Expression) -> exp.Expression:
    """A plain column shown (or ordered by) beside a GROUP BY that does not list it becomes
    ``ANY_VALUE(column)``: the groups stay the ones the query names, as SQLite (which allows the bare
    column) would read it; DuckDB refuses the bare column. Grouping by it instead would split the
    groups the question asked for ("for each type") by another column."""
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


def show_group_columns(tree: exp.Expression) -> exp.Expression:
    """``avg(weight) ... GROUP BY year`` also shows year: a number per group is unreadable without its label.

    Only the outermost SELECT (a subquery's columns are fixed by where it is used, and a set operation's
    by its other side), and only plain grouped columns that are not shown already.
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


def distinct_joined_rows(tree: exp.Expression) -> exp.Expression:
    """``SELECT owner.name FROM owner JOIN dog ...`` lists each owner once, not once per dog.

    A join repeats the rows of the "one" side for every match on the other; a list of names or dates that
    a question asks for ("which owners have a dog") means each once. Only the outermost plain SELECT with
    a join and no aggregate, grouping, limit or ``*``.
    """
    if not isinstance(tree, exp.Select) or not tree.args.get("joins"):
        return tree
    if tree.args.get("distinct") or tree.args.get("group") or tree.args.get("limit"):
        return tree
    if any(isinstance(p, exp.Star) or _has_aggregate(p) for p in tree.expressions):
        return tree
    tree = tree.copy()
    tree.set("distinct", exp.Distinct())
    return tree


_NEGATION = re.compile(r"\b(not|no|never|without|none|don't|doesn't|didn't|haven't|hasn't)\b", re.IGNORECASE)


def _only_columns_of(node: exp.Expression, alias: str) -> bool:
    return all(column.table == alias for column in node.find_all(exp.Column))


def _only_columns_of_other(node: exp.Expression, alias: str) -> bool:
    return all(column.table != alias for column in node.find_all(exp.Column))


def _same_column(a: exp.Expression, b: exp.Expression) -> bool:
    return (
        isinstance(a, exp.Column)
        and isinstance(b, exp.Column)
        and a.table == b.table
        and a.name.lower() == b.name.lower()
    )


def negated_membership(tree: exp.Expression, question: str) -> exp.Expression:
    """ "Students who do not have a cat": ``student JOIN pet ... WHERE pet.kind <> 'cat'`` lists students
    with some other pet; the question means students with no cat, ``student.id NOT IN (SELECT pet.owner
    ... WHERE pet.kind = 'cat')``.

    "Customers who bought a lamp but not a desk": ``... WHERE product.kind = 'lamp' AND product.kind <>
    'desk'`` (the ``<>`` says nothing beside the ``=``) keeps its joins for the lamp and gets the same NOT IN
    for the desk.

    Only when the question says "not", "no", "without"..., the outermost SELECT shows and filters nothing
    but its first table (besides such an ``=``), and a single ``<>`` on a joined table compares it with a
    value.
    """
    if not _NEGATION.search(question) or not isinstance(tree, exp.Select):
        return tree
    source, joins, where = tree.args.get("from_"), tree.args.get("joins") or [], tree.args.get("where")
    if source is None or not isinstance(source.this, exp.Table) or not joins or where is None:
        return tree
    base = source.this.alias_or_name
    conjuncts = _conjuncts(where)
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
    wanted = [c for c in rest if isinstance(c, exp.EQ) and _same_column(c.this, negation.this)
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


def unmatched_rows(tree: exp.Expression) -> exp.Expression:
    """``A JOIN B ... GROUP BY a.x HAVING count(*) = 0`` never holds (an inner join keeps only matched
    rows); it means the rows of A with no match in B: ``SELECT a.x FROM A WHERE a.k NOT IN (SELECT b.k
    FROM B ...)``. Only when the output, grouping and WHERE read nothing but A."""
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
    if any(_has_aggregate(node) for node in tree.expressions) or not all(
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


def impossible_extremes(tree: exp.Expression) -> exp.Expression:
    """``x < (SELECT min(x) FROM t)`` holds for no row of t (nor ``x > max(x)``): the comparison the
    question meant ("more than the lowest") points the other way, so it is turned round."""
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
