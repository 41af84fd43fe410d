"""Compile a semantic query (metrics by dimensions) into one DuckDB SELECT, built as a sqlglot AST.

How a query becomes SQL:

- Each metric is aggregated over its base table. Other tables it needs (for dimensions, its filter or
  the query's filters) are LEFT JOINed along the catalog's relationships, shortest path first, so the
  base rows are kept whole for filters and totals; a breakdown by a dimension of another table lists
  that table's real rows only (no NULL group for web orders without a rep).
- Metrics are grouped by (base table, metric filter, time dimension). One group gives one flat
  SELECT. Several groups (e.g. order count on orders next to revenue on order_items) are aggregated
  separately in CTEs, grouped by the requested dimensions, then joined on those dimensions: a join
  never multiplies the rows a SUM runs over, so nothing is double counted (the "fan-out" problem).
- A join path that goes from the "one" side to the "many" side multiplies rows. That is allowed only
  for metrics made of COUNT(DISTINCT ...), MIN and MAX, which duplicates cannot change.
- ``time_range`` is inclusive at both ends and applies to the time dimension of the query (or each
  metric's own default time dimension). ``time_grain`` truncates time dimensions with date_trunc
  (``year`` gives the year number, ``quarter`` within one year the quarter number). A query with a limit ranks only groups whose dimensions are not NULL.
- ``per`` with ``aggregate`` nests: the query above is computed with the ``per`` table's primary key as
  one more dimension (one total per customer, filters on metrics applying to those totals), and an outer
  SELECT aggregates each metric across them (AVG, MEDIAN, quantile_cont, or COUNT(*) of the entities),
  grouped by the requested dimensions. Without ``per`` the totals are per row of the metric's own table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from catalog.join_graph import Hop, JoinGraph
from catalog.models import Column, DataSource, Relationship
from semantic.models import Dimension, Metric, grains_of, parse_error_message
from semantic.query import (
    OPERATORS,
    Filter,
    OrderBy,
    SemanticError,
    SemanticQuery,
    TimeRange,
    percentile_share,
)

__all__ = [
    "OPERATORS",
    "Filter",
    "OrderBy",
    "SemanticError",
    "SemanticModel",
    "SemanticQuery",
    "TimeRange",
    "compile_query",
    "compile_to_sql",
]

# Moving along a relationship in this direction can multiply rows of the table we come from.
FANS_OUT = {
    (Relationship.Cardinality.MANY_TO_ONE, "forward"): False,
    (Relationship.Cardinality.MANY_TO_ONE, "reverse"): True,
    (Relationship.Cardinality.ONE_TO_MANY, "forward"): True,
    (Relationship.Cardinality.ONE_TO_MANY, "reverse"): False,
    (Relationship.Cardinality.ONE_TO_ONE, "forward"): False,
    (Relationship.Cardinality.ONE_TO_ONE, "reverse"): False,
    (Relationship.Cardinality.MANY_TO_MANY, "forward"): True,
    (Relationship.Cardinality.MANY_TO_MANY, "reverse"): True,
}


# --- the model of a source: items, tables and the join graph ---------------------------------------


@dataclass
class _Item:
    """A metric or dimension with its parsed expression and the tables the expression touches."""

    row: Metric | Dimension
    expression: exp.Expression
    tables: set[str]

    @property
    def name(self) -> str:
        return self.row.name


@dataclass(frozen=True)
class _Relation:
    """A relationship between two tables in scope, as the join graph's key."""

    from_table: str
    from_column: str
    to_table: str
    to_column: str
    cardinality: str


@dataclass
class _Edge:
    to_table: str
    condition: exp.Expression
    fans_out: bool


def _parse_snippet(text: str, default_table: str, what: str) -> tuple[exp.Expression, set[str]]:
    """Parse a stored SQL snippet; unqualified columns belong to the item's own table."""
    try:
        parsed = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise SemanticError(f"{what} is not valid SQL: {parse_error_message(error)}") from error
    for column in parsed.find_all(exp.Column):
        if not column.table:
            column.set("table", exp.to_identifier(default_table))
    return parsed, {column.table for column in parsed.find_all(exp.Column)}


def column_of(expression: str, default_table: str) -> tuple[str, str] | None:
    """'customers.country' → ('customers', 'country'); None for anything but a plain column."""
    try:
        node = sqlglot.parse_one(expression, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    if isinstance(node, exp.Column):
        return node.table or default_table, node.name
    return None


def _is_duplicate_safe(expression: exp.Expression) -> bool:
    """True when joined duplicates cannot change the value: only COUNT(DISTINCT ...), MIN and MAX."""
    for aggregate in expression.find_all(exp.AggFunc):
        if isinstance(aggregate, (exp.Min, exp.Max)):
            continue
        if isinstance(aggregate, exp.Count) and isinstance(aggregate.this, exp.Distinct):
            continue
        return False
    return True


class SemanticModel:
    """Metrics, dimensions and the relationship graph of a source, limited to the tables in scope."""

    def __init__(self, source: DataSource, tables: list[str] | None = None):
        self.source = source
        enabled = source.tables.filter(enabled=True)
        if tables:
            enabled = enabled.filter(name__in=tables)
        self.tables = set(enabled.values_list("name", flat=True))
        # Items that touch a table outside the scope do not exist here: not even their names are shown.
        self.metrics = {m.name: m for m in Metric.objects.filter(source=source) if self._in_scope(m)}
        self.dimensions = {d.name: d for d in Dimension.objects.filter(source=source) if self._in_scope(d)}
        relationships = Relationship.objects.filter(from_column__table__source=source).select_related(
            "from_column__table", "to_column__table"
        )
        keys: dict[str, list[str]] = {}
        for table, column in Column.objects.filter(
            table__source=source, table__name__in=self.tables, is_primary_key=True
        ).values_list("table__name", "name"):
            keys.setdefault(table, []).append(column)
        # Tables whose rows a metric can be totalled for ("per customer"): one key column identifies a row.
        self.entities = {table: columns[0] for table, columns in sorted(keys.items()) if len(columns) == 1}
        self.columns: dict[str, set[str]] = {}  # table -> its column names, read when first filtered on
        self._catalog_columns: dict[str, Column | None] = {}  # dimension -> its column, read once
        # Never join through a table outside the scope.
        self.relations = [
            _Relation(r.from_column.table.name, r.from_column.name, r.to_column.table.name, r.to_column.name,
                      r.cardinality)
            for r in relationships.order_by("id")
            if r.from_column.table.name in self.tables and r.to_column.table.name in self.tables
        ]  # fmt: skip
        self.graph = JoinGraph(self.relations)

    def column(self, field: str) -> _Item | None:
        """``table.column`` of a table in scope as an item to filter on (ids, thresholds on any column)."""
        table, _, name = field.partition(".")
        if table not in self.tables or not name:
            return None
        if name not in self.columns.setdefault(table, set(
            Column.objects.filter(table__source=self.source, table__name=table).values_list("name", flat=True)
        )):  # fmt: skip
            return None
        row = Dimension(name=field, table=table, expression=name, kind=Dimension.Kind.CATEGORICAL)
        return _Item(row, exp.column(name, table=table), {table})

    def identifies(self, table: str, column: str, entity: str) -> bool:
        """Whether ``table.column`` holds the key of ``entity`` rows: the key itself or a reference to it."""
        if table == entity:
            return column == self.entities.get(entity)
        return any(
            {(r.from_table, r.from_column), (r.to_table, r.to_column)}
            == {(table, column), (entity, self.entities.get(entity))}
            for r in self.relations
        )

    def tells_apart(self, dimension: str) -> str | None:
        """The table each of whose rows has its own value of ``dimension`` (a key, or a column profiling
        found unique and never empty, such as a product name), or None."""
        column = self.catalog_column(self.dimensions[dimension])
        if column is None:
            return None
        profile = column.profile or {}
        unique = (
            column.table.row_count is not None
            and profile.get("distinct_count") == column.table.row_count
            and profile.get("null_count") == 0
        )
        return column.table.name if column.is_primary_key or unique else None

    def catalog_column(self, row: Dimension) -> Column | None:
        """The catalog column a dimension reads, when its expression is a plain column of a table here."""
        if row.name not in self._catalog_columns:
            located = column_of(row.expression, row.table)
            self._catalog_columns[row.name] = (
                Column.objects.filter(table__source=self.source, table__name=located[0], name=located[1])
                .select_related("table")
                .first()
                if located is not None and located[0] in self.tables
                else None
            )
        return self._catalog_columns[row.name]

    def _in_scope(self, row: Metric | Dimension) -> bool:
        try:
            _, tables = _parse_snippet(row.expression, row.table, row.name)
            if isinstance(row, Metric) and row.filter:
                tables |= _parse_snippet(row.filter, row.table, row.name)[1]
        except SemanticError:
            return True  # a broken expression is reported by name when the item is used
        return (tables | {row.table}) <= self.tables

    def item(self, name: str) -> _Item:
        row = self.metrics.get(name) or self.dimensions[name]
        kind = "metric" if isinstance(row, Metric) else "dimension"
        expression, tables = _parse_snippet(row.expression, row.table, f"The expression of {kind} '{name}'")
        tables.add(row.table)
        outside = sorted(tables - self.tables)
        if outside:
            raise SemanticError(
                f"{kind.capitalize()} '{name}' uses table(s) not available here: {', '.join(outside)}"
            )
        return _Item(row, expression, tables)

    def join_tree(self, base: str) -> dict[str, tuple[str, _Edge, bool]]:
        """Shortest paths from ``base``: table -> (parent table, edge, whether the path fans out).

        Ties between equally short paths go to the one that multiplies rows fewer times.
        """

        def fans_out(hop: Hop[_Relation]) -> bool:
            return FANS_OUT[(hop.key.cardinality, "forward" if hop.forward else "reverse")]

        shortest = self.graph.tree(base, penalty=fans_out)
        tree: dict[str, tuple[str, _Edge, bool]] = {}

        def reach(table: str) -> tuple[str, _Edge, bool]:
            if table not in tree:
                parent, hop = shortest[table]
                key = hop.key
                condition = exp.EQ(
                    this=exp.column(key.from_column, table=key.from_table),
                    expression=exp.column(key.to_column, table=key.to_table),
                )
                edge = _Edge(hop.to_table, condition, fans_out(hop))
                tree[table] = (parent, edge, edge.fans_out or (parent in shortest and reach(parent)[2]))
            return tree[table]

        for table in shortest:
            reach(table)
        return tree


# --- compilation -------------------------------------------------------------------------------------


def _unknown(kind: str, names: list[str], valid: list[str]) -> str:
    return f"Unknown {kind}(s): {', '.join(names)}. Valid {kind}s: {', '.join(sorted(valid)) or '(none)'}"


def _predicate(target: exp.Expression, op: str, value: Any) -> exp.Expression:
    if op == "in":
        return exp.In(this=target, expressions=[exp.convert(v) for v in value])
    if op == "not in":
        return exp.Not(this=exp.In(this=target, expressions=[exp.convert(v) for v in value]))
    if op == "between":
        return exp.Between(this=target, low=exp.convert(value[0]), high=exp.convert(value[1]))
    if value is None and op in ("=", "!="):
        return (
            exp.Is(this=target, expression=exp.Null())
            if op == "="
            else exp.Not(this=exp.Is(this=target, expression=exp.Null()))
        )
    binary = {
        "=": exp.EQ,
        "!=": exp.NEQ,
        ">": exp.GT,
        ">=": exp.GTE,
        "<": exp.LT,
        "<=": exp.LTE,
        "like": exp.Like,
    }
    return binary[op](this=target, expression=exp.convert(value))


def _date_literal(day: dt.date) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), "DATE")


def _time_range_predicates(target: exp.Expression, time_range: TimeRange) -> list[exp.Expression]:
    predicates = []
    if time_range.start:
        predicates.append(exp.GTE(this=target.copy(), expression=_date_literal(time_range.start)))
    if time_range.end:  # inclusive end: everything before the next day, which also suits timestamps
        predicates.append(
            exp.LT(this=target.copy(), expression=_date_literal(time_range.end + dt.timedelta(days=1)))
        )
    return predicates


@dataclass
class _Group:
    """Metrics that can be aggregated in one SELECT: same base table, same filter, same time dimension."""

    base: str
    filter_sql: str
    time_dimension: str | None
    metrics: list[_Item] = field(default_factory=list)


class _Compiler:
    def __init__(
        self,
        source: DataSource,
        query: SemanticQuery,
        tables: list[str] | None,
        model: SemanticModel | None = None,
    ):
        self.model = model or SemanticModel(source, tables)
        self.query = query
        self._check_names()
        self.metrics = [self.model.item(name) for name in self.metric_names]
        self.dimensions = [self.model.item(name) for name in self.dimension_names]

    def _check_names(self) -> None:
        query, model = self.query, self.model
        self.metric_names = list(query.metrics)
        self.dimension_names = list(query.dimensions)
        # Ordering or filtering by a metric the query did not ask for adds it as a column.
        for name in [f.field for f in query.filters] + [o.field for o in query.order_by]:
            if name in model.metrics and name not in self.metric_names:
                self.metric_names.append(name)
        problems = []
        unknown_metrics = [n for n in self.metric_names if n not in model.metrics]
        if unknown_metrics:
            problems.append(_unknown("metric", unknown_metrics, list(model.metrics)))
        unknown_dimensions = [n for n in self.dimension_names if n not in model.dimensions]
        if query.time_dimension and query.time_dimension not in model.dimensions:
            unknown_dimensions.append(query.time_dimension)
        if unknown_dimensions:
            problems.append(_unknown("dimension", unknown_dimensions, list(model.dimensions)))
        fields = list(model.metrics) + list(model.dimensions)
        unknown_fields = [
            f.field for f in query.filters if f.field not in fields and not model.column(f.field)
        ]
        if unknown_fields:
            problems.append(
                f"Unknown filter field(s): {', '.join(unknown_fields)}. Filter on a metric, a dimension or a "
                "column as table.column."
            )
        overlap = set(self.metric_names) & set(self.dimension_names)
        if overlap:
            problems.append(f"Name(s) used as both metric and dimension: {', '.join(sorted(overlap))}")
        if problems:
            raise SemanticError(" ".join(problems))
        self._resolve_time()
        outputs = self.dimension_names + self.metric_names
        bad_order = [o.field for o in query.order_by if o.field not in outputs]
        if bad_order:
            raise SemanticError(
                f"Cannot order by {', '.join(bad_order)}: order by one of the query's columns ({', '.join(outputs)})"
            )

    def _is_time(self, name: str) -> bool:
        return self.model.dimensions[name].kind == Dimension.Kind.TIME

    def _resolve_time(self) -> None:
        """Decide which time dimension the grain and range use, per metric."""
        query = self.query
        explicit = query.time_dimension or next((n for n in self.dimension_names if self._is_time(n)), None)
        if explicit and not self._is_time(explicit):
            raise SemanticError(f"time_dimension '{explicit}' is not a time dimension")
        self.explicit_time = explicit
        if query.aggregate and not self.metric_names:
            raise SemanticError("'aggregate' needs a metric to aggregate across the totals")
        if query.time_range and not self.metric_names and not explicit and not query.without:
            raise SemanticError(
                "time_range needs a time dimension: add one to dimensions or set time_dimension"
            )
        self.metric_time: dict[str, str | None] = {}
        for name in self.metric_names:
            own = self.model.metrics[name].time_dimension or None
            if own and own not in self.model.dimensions:
                raise SemanticError(
                    f"Metric '{name}' names time dimension '{own}', which does not exist here"
                )
            self.metric_time[name] = explicit or own
            if query.time_range and not self.metric_time[name] and not query.without:
                raise SemanticError(
                    f"Metric '{name}' has no time dimension for time_range; set time_dimension"
                )
        if query.time_grain:
            grain_dimension = explicit or None
            if grain_dimension is None:
                candidates = {self.metric_time[n] for n in self.metric_names} - {None}
                if len(candidates) != 1:
                    raise SemanticError(
                        "time_grain needs a time dimension: add one to dimensions or set time_dimension"
                        + (f" (candidates: {', '.join(sorted(candidates))})" if candidates else "")
                    )
                grain_dimension = candidates.pop()
                self.metric_time = dict.fromkeys(self.metric_names, grain_dimension)
            if grain_dimension not in self.dimension_names:
                self.dimension_names.insert(0, grain_dimension)
            for name in self.dimension_names:
                grains = grains_of(self.model.dimensions[name].time_grains or [])
                if self._is_time(name) and query.time_grain not in grains:
                    raise SemanticError(
                        f"Dimension '{name}' has no time grain '{query.time_grain}'; valid grains: {', '.join(grains)}"
                    )

    # -- pieces of SQL

    def _dimension_sql(self, item: _Item) -> exp.Expression:
        expression = item.expression.copy()
        if self.query.time_grain and item.row.kind == Dimension.Kind.TIME:
            if self.query.time_grain == "weekday":  # Monday ... Sunday, all years together
                return exp.Anonymous(this="dayname", expressions=[expression])
            if self.query.time_grain == "month_of_year":  # 1 to 12, all years together
                return exp.Month(this=expression)
            if self.query.time_grain == "year":  # a year reads as 2024, not as the date 2024-01-01
                return exp.Year(this=expression)
            if self.query.time_grain == "quarter" and self._within_one_year():
                return exp.Quarter(this=expression)  # the quarters of 2024 read as 1 to 4
            return exp.DateTrunc(unit=exp.Literal.string(self.query.time_grain), this=expression)
        return expression

    def _within_one_year(self) -> bool:
        time_range = self.query.time_range
        return bool(
            time_range
            and time_range.start
            and time_range.end
            and time_range.start.year == time_range.end.year
        )

    def _dimension_filters(self) -> list[tuple[_Item, Filter]]:
        """Filters on dimensions and on columns (``customers.customer_id``): row filters, in WHERE."""
        found = []
        for condition in self.query.filters:
            if condition.field in self.model.dimensions:
                found.append((self.model.item(condition.field), condition))
            elif condition.field not in self.model.metrics:
                column = self.model.column(condition.field)
                assert column is not None  # _check_names refused unknown fields
                found.append((column, condition))
        return found

    def _grouped_select(
        self, base: str, metrics: list[_Item], filter_sql: str, time_dimension: str | None
    ) -> exp.Select:
        """SELECT dimensions, metrics FROM base LEFT JOIN ... WHERE ... GROUP BY dimensions."""
        dimension_filters = self._dimension_filters()
        where: list[exp.Expression] = []
        needed = {base} | {t for item in self.dimensions + metrics for t in item.tables}
        needed |= {t for item, _ in dimension_filters for t in item.tables}
        if filter_sql:
            condition, tables = _parse_snippet(filter_sql, base, f"The filter of metric '{metrics[0].name}'")
            where.append(condition)
            needed |= tables
        if self.query.time_range and time_dimension:
            time_item = self.model.item(time_dimension)
            where.extend(_time_range_predicates(time_item.expression, self.query.time_range))
            needed |= time_item.tables
        for item, condition in dimension_filters:
            where.append(_predicate(item.expression.copy(), condition.op, condition.value))
        if metrics:
            # "Top 5 reps by revenue" ranks real reps, and "margin by rep" lists them: orders without one
            # (reached through a key that may be empty) are not a group of their own.
            where.extend(
                exp.Not(this=exp.Is(this=item.expression.copy(), expression=exp.Null()))
                for item in self.dimensions
                if item.row.kind != Dimension.Kind.TIME and (self.query.limit or item.tables - {base})
            )

        tree = self.model.join_tree(base)
        unreachable = sorted(needed - set(tree) - {base})
        if unreachable:
            raise SemanticError(
                f"No relationship path from table '{base}' to {', '.join(unreachable)}; "
                "add a relationship in the catalog or choose other dimensions"
            )
        joins: list[tuple[str, _Edge]] = []
        for table in sorted(needed - {base}):
            path = []
            while table != base:
                parent, edge, _ = tree[table]
                path.append((parent, edge))
                table = parent
            for step in reversed(path):
                if step not in joins:
                    joins.append(step)
        for metric in metrics:
            fanned = [edge.to_table for _, edge in joins if tree[edge.to_table][2]]
            if fanned and not _is_duplicate_safe(metric.expression):
                raise SemanticError(
                    f"Metric '{metric.name}' is counted per row of '{base}'; joining {', '.join(fanned)} for this "
                    "query would repeat those rows and double count it. Use dimensions from tables it belongs to."
                )

        columns = [exp.alias_(self._dimension_sql(item), item.name) for item in self.dimensions]
        columns += [exp.alias_(item.expression.copy(), item.name) for item in metrics]
        select = exp.select(*columns).from_(exp.to_table(base))
        for _, edge in joins:
            select = select.join(exp.to_table(edge.to_table), on=edge.condition.copy(), join_type="left")
        if where:
            select = select.where(exp.and_(*where))
        if self.dimensions and metrics:
            select = select.group_by(*[self._dimension_sql(item) for item in self.dimensions])
        elif self.dimensions:
            select = select.distinct()
        return select

    def _groups(self) -> list[_Group]:
        groups: dict[tuple[str, str, str | None], _Group] = {}
        for item in self.metrics:
            metric: Metric = item.row
            key = (
                metric.table,
                metric.filter.strip(),
                self.metric_time[metric.name] if self.query.time_range else None,
            )
            groups.setdefault(key, _Group(*key)).metrics.append(item)
        return list(groups.values())

    def _metric_filters(self, metric_sql: dict[str, exp.Expression]) -> list[exp.Expression]:
        return [
            _predicate(metric_sql[f.field].copy(), f.op, f.value)
            for f in self.query.filters
            if f.field in self.model.metrics
        ]

    def _finish(self, select: exp.Select, order: list[OrderBy] | None = None) -> exp.Select:
        order = self.query.order_by if order is None else order
        if not order:
            time_columns = [n for n in self.dimension_names if self._is_time(n)]
            if time_columns:
                order = [OrderBy(n) for n in time_columns]
            elif self.dimension_names and self.metric_names:
                order = [OrderBy(self.metric_names[0], "desc")]
        for item in order:
            select = select.order_by(exp.Ordered(this=exp.column(item.field), desc=item.direction == "desc"))
        if self.query.limit:
            select = select.limit(self.query.limit)
        return select

    def compile(self) -> exp.Select:
        if self.query.without:
            return self._compile_without()
        if self.query.aggregate:
            return self._compile_per_entity()
        if self.query.share:
            return self._compile_share()
        if self.query.growth:
            return self._compile_growth()
        if self.query.ratio:
            return self._compile_ratio()
        if self.query.percent:
            return self._compile_percent()
        return self._compile_flat()

    def _compile_ratio(self) -> exp.Select:
        """The first metric divided by the second, by the dimensions, beside both."""
        first, second = self.query.metrics
        name = f"{first}_to_{second}"
        columns: list[exp.Expression] = [
            exp.alias_(exp.column(item.name), item.name) for item in self.dimensions
        ]
        columns += [exp.alias_(exp.column(m, table="flat"), m) for m in (first, second)]
        ratio = exp.Div(this=exp.column(first, table="flat"), expression=exp.column(second, table="flat"))
        columns.append(exp.alias_(self._scaled(ratio), name))
        return self._outer(columns, {first: name, second: name}).from_(self._part().subquery("flat"))

    def _compile_percent(self) -> exp.Select:
        """The metrics times 100 ("what % of orders were returned" of a return rate), same names."""
        columns: list[exp.Expression] = [
            exp.alias_(exp.column(item.name), item.name) for item in self.dimensions
        ]
        columns += [
            exp.alias_(self._scaled(exp.column(name, table="flat")), name) for name in self.query.metrics
        ]
        return self._outer(columns, {m: m for m in self.query.metrics}).from_(self._part().subquery("flat"))

    def _part(self, **changes: Any) -> exp.Select:
        """This query with ``changes``, without share, growth, ordering or limit, compiled flat."""
        query = dataclasses.replace(
            self.query,
            share=False,
            growth=None,
            ratio=False,
            percent=False,
            order_by=[],
            limit=None,
            **changes,
        )
        select = _Compiler(self.model.source, query, None, self.model)._compile_flat()
        select.set("order", None)
        return select

    def _scaled(self, value: exp.Expression) -> exp.Expression:
        return exp.Mul(this=exp.Literal.number(100), expression=value) if self.query.percent else value

    def _outer(self, columns: list[exp.Expression], outputs: dict[str, str]) -> exp.Select:
        """The final SELECT (its FROM is the caller's), ordered as asked (a metric by its computed column)
        or, with a breakdown, in time order or by the computed column, largest first."""
        dimensions = [item.name for item in self.dimensions]
        select = exp.select(*columns)
        order = [OrderBy(outputs.get(o.field, o.field), o.direction) for o in self.query.order_by]
        if not order and dimensions:
            time_columns = [name for name in dimensions if self._is_time(name)]
            order = [OrderBy(n) for n in time_columns] or [OrderBy(next(iter(outputs.values())), "desc")]
        return self._finish(select, order)

    def _compile_share(self) -> exp.Select:
        """Each metric by the dimensions, divided by its total over the same period with no breakdown and
        no dimension filters: "the share of revenue from Electronics" or "... by country"."""
        part = self._part()
        # no filters: a threshold on a metric picks the groups shown, never the total they are a share of
        total = self._part(dimensions=[], filters=[], time_grain=None)
        columns: list[exp.Expression] = [
            exp.alias_(exp.column(item.name, table="part"), item.name) for item in self.dimensions
        ]
        outputs = {}
        for metric in self.query.metrics:
            name = f"{'percent' if self.query.percent else 'share'}_of_{metric}"
            outputs[metric] = name
            share = exp.Div(
                this=exp.column(metric, table="part"), expression=exp.column(metric, table="total")
            )
            columns += [
                exp.alias_(exp.column(metric, table="part"), metric),
                exp.alias_(self._scaled(share), name),
            ]
        select = self._outer(columns, outputs)
        select = select.from_(part.subquery("part")).join(total.subquery("total"), join_type="cross")
        return select

    def _compile_growth(self) -> exp.Select:
        """Each metric in two periods and its change from the first to the second, by the dimensions."""
        growth = self.query.growth
        assert growth is not None
        before = self._part(time_range=growth.before)
        after = self._part(time_range=growth.after)
        dimensions = [item.name for item in self.dimensions]
        columns: list[exp.Expression] = [
            exp.alias_(exp.func("coalesce", exp.column(d, table="after"), exp.column(d, table="before")), d)
            for d in dimensions
        ]
        outputs = {}
        label_before, label_after = growth.labels
        for metric in self.query.metrics:
            name = f"{'percent_' if self.query.percent else ''}growth_{metric}"
            outputs[metric] = name
            change = exp.Sub(
                this=exp.Div(
                    this=exp.column(metric, table="after"), expression=exp.column(metric, table="before")
                ),
                expression=exp.Literal.number(1),
            )
            columns += [
                exp.alias_(exp.column(metric, table="before"), f"{metric}_{label_before}"),
                exp.alias_(exp.column(metric, table="after"), f"{metric}_{label_after}"),
                exp.alias_(self._scaled(exp.paren(change)), name),
            ]
        select = self._outer(columns, outputs)
        select = select.from_(before.subquery("before"))
        if dimensions:
            on = exp.and_(
                *[
                    exp.NullSafeEQ(
                        this=exp.column(d, table="before"), expression=exp.column(d, table="after")
                    )
                    for d in dimensions
                ]
            )
            return select.join(after.subquery("after"), on=on, join_type="full")
        return select.join(after.subquery("after"), join_type="cross")

    def _compile_flat(self) -> exp.Select:
        if not self.metrics:
            select = self._grouped_select(self.dimensions[0].row.table, [], "", self.explicit_time)
            return self._finish(select)
        groups = self._groups()
        if len(groups) == 1:
            group = groups[0]
            select = self._grouped_select(group.base, group.metrics, group.filter_sql, group.time_dimension)
            having = self._metric_filters({item.name: item.expression for item in self.metrics})
            if having:
                select = select.having(exp.and_(*having))
            return self._finish(select)
        return self._compile_fan_out(groups)

    def _compile_fan_out(self, groups: list[_Group]) -> exp.Select:
        """Aggregate each group on its own grain, then join the results on the dimensions."""
        names = [f"{group.base}_metrics_{index}" for index, group in enumerate(groups, start=1)]
        ctes = {
            name: self._grouped_select(group.base, group.metrics, group.filter_sql, group.time_dimension)
            for name, group in zip(names, groups, strict=True)
        }
        metric_sql = {
            item.name: exp.column(item.name, table=name)
            for name, group in zip(names, groups, strict=True)
            for item in group.metrics
        }
        dimension_names = [item.name for item in self.dimensions]
        if dimension_names:
            keys = exp.union(*[exp.select(*dimension_names).from_(name) for name in names], distinct=True)
            select = exp.select(
                *[exp.alias_(exp.column(d, table="dimension_keys"), d) for d in dimension_names],
                *[exp.alias_(metric_sql[m.name], m.name) for m in self.metrics],
            ).from_("dimension_keys")
            for name in names:
                on = exp.and_(
                    *[
                        exp.NullSafeEQ(
                            this=exp.column(d, table="dimension_keys"), expression=exp.column(d, table=name)
                        )
                        for d in dimension_names
                    ]
                )
                select = select.join(name, on=on, join_type="left")
        else:
            select = exp.select(*[exp.alias_(metric_sql[m.name], m.name) for m in self.metrics]).from_(
                names[0]
            )
            for name in names[1:]:
                select = select.join(name, join_type="cross")
        for name in names:
            select = select.with_(name, as_=ctes[name])
        if dimension_names:
            select = select.with_("dimension_keys", as_=keys)  # after the CTEs it reads
        filters = self._metric_filters(metric_sql)
        if filters:
            select = select.where(exp.and_(*filters))
        return self._finish(select)

    def _entity(self) -> _Item:
        """The ``per`` table's key as a dimension: the metric's own table when the query names none."""
        table = self.query.per or self.metrics[0].row.table
        key = self.model.entities.get(table)
        if key is None:
            raise SemanticError(
                f"'per' must be a table with a one-column primary key; valid: {', '.join(self.model.entities)}"
            )
        row = Dimension(name=f"{table}_{key}", table=table, expression=key, kind=Dimension.Kind.CATEGORICAL)
        return _Item(row, exp.column(key, table=table), {table})

    def _compile_per_entity(self) -> exp.Select:
        """Each metric per row of the ``per`` table, then aggregated across those rows."""
        entity = self._entity()
        requested = list(self.dimensions)
        self.dimensions = [*requested, entity]
        totals = self._compile_flat()  # its order and limit are the outer query's
        totals.set("order", None)
        totals.set("limit", None)
        self.dimensions = requested
        outputs = {}
        columns: list[exp.Expression] = [exp.alias_(exp.column(item.name), item.name) for item in requested]
        for aggregate in self.query.aggregate:
            if aggregate == "count":
                name = f"number_of_{entity.row.table}"
                columns.append(exp.alias_(exp.Count(this=exp.Star()), name))
                continue
            for metric in self.query.metrics:
                name = f"{aggregate}_{metric}"
                outputs.setdefault(metric, name)
                columns.append(exp.alias_(_aggregate_sql(aggregate, exp.column(metric)), name))
        select = exp.select(*columns).from_(totals.subquery("totals"))
        if requested:
            select = select.group_by(*[exp.column(item.name) for item in requested])
        order = [OrderBy(outputs.get(o.field, o.field), o.direction) for o in self.query.order_by]
        if not order and requested:  # a time series in time order, else the largest first
            time_columns = [item.name for item in requested if self._is_time(item.name)]
            first_output = columns[len(requested)].alias_or_name
            order = [OrderBy(n) for n in time_columns] or [OrderBy(first_output, "desc")]
        return self._finish(select, order)

    def _compile_without(self) -> exp.Select:
        """The metrics and dimensions of the rows of one table with no related row in the ``without``
        table: ``WHERE NOT EXISTS`` a path of joins from those rows to it. Filters and the time range on
        that side (the order date of "no orders in 2025") go inside; those on the rows' own side outside.
        """
        without = self.query.without
        entity = self.metrics[0].row.table if self.metrics else self.dimensions[0].row.table
        if without not in self.model.tables or without == entity:
            raise SemanticError(
                f"'without' must be a table related to '{entity}'; valid: "
                + ", ".join(sorted(self.model.tables - {entity}))
            )
        outer_tree = self.model.join_tree(entity)
        # the rows' own side: tables each row reaches one of, never through the table they must lack
        own = {entity} | {
            table for table, (parent, _, fans_out) in outer_tree.items()
            if not fans_out and table != without and without not in self._path(outer_tree, table, entity)
        }  # fmt: skip
        strays = [item.name for item in self.metrics + self.dimensions if not item.tables <= own]
        if strays or {item.row.table for item in self.metrics} - {entity}:
            raise SemanticError(
                f"With 'without', metrics and dimensions describe '{entity}' rows only: {', '.join(strays)}"
            )
        inner_tree = self.model.join_tree(without)
        if entity not in inner_tree:
            raise SemanticError(f"No relationship path from table '{without}' to '{entity}'")
        link_path = self._path(inner_tree, entity, without)  # from the without table towards the rows
        inside: list[exp.Expression] = []
        needed = set(link_path)
        outer_filters = []
        for item, condition in self._dimension_filters():
            if item.tables <= own:
                outer_filters.append(condition)
            else:
                inside.append(_predicate(item.expression.copy(), condition.op, condition.value))
                needed |= item.tables
        outer_filters += [f for f in self.query.filters if f.field in self.model.metrics]
        outer_range = None
        if self.query.time_range:
            time_item = self.model.item(self._time_across(link_path, entity))
            if time_item.tables <= own:
                outer_range = self.query.time_range
            else:
                inside.extend(_time_range_predicates(time_item.expression, self.query.time_range))
                needed |= time_item.tables
        if entity in {t for table in needed for t in [table, *self._path(inner_tree, table, without)]}:
            raise SemanticError(f"The conditions of 'without' must not lead back through '{entity}'")
        _, edge, _ = inner_tree[entity]
        inside.append(edge.condition.copy())  # correlates each inner row with the outer one
        missing = exp.select("1").from_(exp.to_table(without))
        joined: list[str] = []
        for table in sorted(needed - {without}, key=lambda t: len(self._path(inner_tree, t, without))):
            for step in [*self._path(inner_tree, table, without), table]:
                if step != without and step not in joined:
                    joined.append(step)
                    missing = missing.join(
                        exp.to_table(step), on=inner_tree[step][1].condition.copy(), join_type="inner"
                    )
        missing = missing.where(exp.and_(*inside))
        select = self._part(filters=outer_filters, time_range=outer_range, without=None)
        select = select.where(exp.Not(this=exp.Exists(this=missing)))
        return self._finish(select)

    @staticmethod
    def _path(tree: dict[str, tuple[str, _Edge, bool]], table: str, base: str) -> list[str]:
        """The tables between ``base`` and ``table`` on the tree's path, ``base`` first, ``table`` left out."""
        path = []
        while table != base:
            table = tree[table][0]
            path.append(table)
        return list(reversed(path))

    def _time_across(self, link_path: list[str], entity: str) -> str:
        """The time dimension a time range of 'without' means: the one named, else the time dimension of the
        metrics on the table nearest the rows along the link (the order date, for customers and orders)."""
        if self.query.time_dimension:
            return self.query.time_dimension
        for table in reversed(link_path):  # nearest the rows first
            own = [
                m.time_dimension for m in self.model.metrics.values() if m.table == table and m.time_dimension
            ]
            times = own or [
                name for name, d in self.model.dimensions.items()
                if d.table == table and d.kind == Dimension.Kind.TIME
            ]  # fmt: skip
            if times:
                return Counter(times).most_common(1)[0][0]
        raise SemanticError(f"No time dimension between '{entity}' and '{self.query.without}' for time_range")


_AGGREGATE_FUNCTIONS = {"avg": exp.Avg, "min": exp.Min, "max": exp.Max, "sum": exp.Sum, "median": exp.Median}


def _aggregate_sql(aggregate: str, column: exp.Expression) -> exp.Expression:
    share = percentile_share(aggregate)
    if aggregate != "median" and share is not None:
        return exp.Anonymous(this="quantile_cont", expressions=[column, exp.Literal.number(share)])
    return _AGGREGATE_FUNCTIONS[aggregate](this=column)


def _as_source(source: DataSource | str) -> DataSource:
    if isinstance(source, DataSource):
        return source
    found = DataSource.objects.filter(name=source).first()
    if found is None:
        raise SemanticError(f"Unknown data source '{source}'")
    return found


def compile_query(
    source: DataSource | str, query: SemanticQuery | dict[str, Any], tables: list[str] | None = None
) -> exp.Select:
    """Build the SELECT that answers ``query`` on ``source``, using only ``tables`` when given."""
    if not isinstance(query, SemanticQuery):
        query = SemanticQuery.from_dict(query)
    return _Compiler(_as_source(source), query, tables).compile()


def compile_to_sql(
    source: DataSource | str,
    query: SemanticQuery | dict[str, Any],
    tables: list[str] | None = None,
    pretty: bool = False,
) -> str:
    """The DuckDB SQL text of :func:`compile_query`."""
    return compile_query(source, query, tables).sql(dialect="duckdb", pretty=pretty)
