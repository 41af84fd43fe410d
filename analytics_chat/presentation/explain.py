"""How an answer was computed, in plain words: the metric and its definition, filters, grouping, period,
ordering and the tables read, for ``response_data["explanation"]``.

Built from the plan alone: ``state.semantic_query`` (a dict, read key by key, so keys added later are
listed as they are instead of breaking anything) with the semantic layer's own descriptions, and the SQL
parsed with sqlglot for everything else. Nothing here depends on how the engine wrote the plan.

>>> from analytics_chat.pipeline.state import AnswerState, Scope
>>> state = AnswerState("m", "q", Scope("shop"), "", sql="SELECT city, COUNT(*) AS n FROM stores "
...     "WHERE country = 'France' GROUP BY city ORDER BY n DESC LIMIT 3")
>>> explain(state)["summary"]
'Number of rows of stores, by city, where country is France, highest n first, top 3'
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlglot
from sqlglot import exp

from analytics_chat.engine.accounting import positional
from analytics_chat.pipeline.state import AnswerState

AGGREGATE_WORDS = {"avg": "average", "median": "median", "min": "lowest", "max": "highest", "sum": "total"}
OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    ">": "is above",
    ">=": "is at least",
    "<": "is below",
    "<=": "is at most",
    "in": "is one of",
    "not in": "is not one of",
    "between": "is between",
    "like": "matches",
}
GRAIN_WORDS = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}
ADDITIVE = (exp.Sum, exp.Count)


def explain(state: AnswerState) -> dict[str, Any] | None:
    """The explanation of a data answer, or None when there is no plan to explain (no SQL)."""
    if not state.sql:
        return None
    tree = _parse(state.sql)
    tables = _tables(tree) if tree is not None else []
    if isinstance(state.semantic_query, dict) and state.semantic_query:
        explanation = _from_semantic_query(state.semantic_query, state.scope.source)
    elif tree is not None:
        explanation = _from_sql(tree)
    else:
        explanation = {"summary": "A query written for this question", "metrics": [], "filters": [],
                       "grouping": [], "period": None, "order": None, "limit": None, "notes": []}  # fmt: skip
    explanation["path"] = "semantic" if state.semantic_query else "sql"
    explanation["tables"] = tables
    explanation["metric"] = explanation["metrics"][0] if explanation["metrics"] else None
    explanation["columns"] = _columns(state, explanation["metrics"])
    return explanation


# --- the semantic path -----------------------------------------------------------------------------


def _semantic_rows(source_name: str, model, names: list[str]) -> dict[str, Any]:
    if not names:
        return {}
    return {row.name: row for row in model.objects.filter(source__name=source_name, name__in=names)}


def _label(row: Any, name: str) -> str:
    return (getattr(row, "label", "") or name.replace("_", " ")).strip()


def _from_semantic_query(query: dict[str, Any], source_name: str) -> dict[str, Any]:
    from semantic.models import Dimension, Metric
    from semantic.query import QUERY_KEYS

    metric_names = [m for m in _as_list(query.get("metrics")) if isinstance(m, str)]
    dimension_names = [d for d in _as_list(query.get("dimensions")) if isinstance(d, str)]
    filter_fields: list[Any] = [f.get("field") for f in _as_list(query.get("filters")) if isinstance(f, dict)]
    metrics_by_name = _semantic_rows(source_name, Metric, metric_names + filter_fields)
    dimension_rows = _semantic_rows(
        source_name, Dimension, dimension_names + filter_fields + [query.get("time_dimension") or ""]
    )
    labels = {name: _label(row, name) for name, row in {**dimension_rows, **metrics_by_name}.items()}

    def label(name: Any) -> str:
        return labels.get(name, str(name).replace("_", " "))

    metrics: list[dict[str, Any]] = []
    for name in metric_names:
        row = metrics_by_name.get(name)
        metrics.append(
            {
                "name": name,
                "label": label(name),
                "definition": (row.description if row else "").strip(),
                "expression": row.expression if row else None,
                "filter": (row.filter or None) if row else None,
                "format": row.format if row else None,
                "additive": _is_additive_metric(row) if row else False,
            }
        )
    aggregates = [a for a in _as_list(query.get("aggregate")) if isinstance(a, str)]
    if aggregates and metrics:
        metrics = _across_entities(metrics, aggregates, query.get("per"), metrics_by_name)
    elif query.get("share") is True or isinstance(query.get("growth"), dict):
        metrics = _shares_and_growth(metrics, query)
    elif query.get("ratio") is True and len(metrics) == 2:
        first, second = metrics
        ratio = {**first, "name": f"{first['name']}_to_{second['name']}", "format": None, "additive": False,
                 "label": f"{first['label']} to {second['label'].lower()}{' (%)' if query.get('percent') else ''}"}  # fmt: skip
        metrics = [first, second, ratio]
    elif query.get("percent") is True:  # a rate times 100: no longer a fraction to show as a percentage
        metrics = [{**m, "label": f"{m['label']} (%)", "format": None} for m in metrics]
    grain = query.get("time_grain")
    grouping = []
    for name in dimension_names:
        row = dimension_rows.get(name)
        is_time = row is not None and row.kind == Dimension.Kind.TIME
        grouping.append(f"{grain} of {label(name).lower()}" if grain and is_time else label(name))
    if grain and not any(g.startswith(f"{grain} of") for g in grouping):
        grouping.insert(0, str(grain))
    filters = [_filter_words(f, label) for f in _as_list(query.get("filters")) if isinstance(f, dict)]
    period = _period_words(query.get("time_range"))
    order = [
        f"{'highest' if str(o.get('direction')).lower() == 'desc' else 'lowest'} {label(o.get('field')).lower()} first"
        for o in _as_list(query.get("order_by"))
        if isinstance(o, dict) and o.get("field")
    ]
    limit = query.get("limit")
    notes = [
        f"{key.replace('_', ' ')}: {_compact(value)}"
        for key, value in query.items()
        if key not in QUERY_KEYS and value not in (None, [], {}, "")
    ]
    subject = " and ".join(m["label"] for m in metrics) or ", ".join(grouping) or "Rows"
    if len(metrics) == 1 and metrics[0]["definition"]:
        subject += f" ({_clause(metrics[0]['definition'])})"
    without = query.get("without")
    if isinstance(without, str) and without:
        subject += f" with no {without.replace('_', ' ')}"  # the period and filters are the related rows'
    parts = [subject + (f" in {period}" if period else "")]
    if grouping and metrics:
        parts.append("by " + " and ".join(g[:1].lower() + g[1:] for g in grouping))
    if filters:
        parts.append("where " + " and ".join(filters))
    parts += order
    if isinstance(limit, int):
        parts.append(f"top {limit}")
    parts += notes
    return {
        "summary": ", ".join(parts),
        "metrics": metrics,
        "filters": filters,
        "grouping": grouping,
        "period": period,
        "order": ", ".join(order) or None,
        "limit": limit if isinstance(limit, int) else None,
        "notes": notes,
    }


def _entity_words(table: str) -> str:
    """'sales_reps' -> 'sales rep', 'categories' -> 'category': one row of a table, in words."""
    words = table.replace("_", " ").split()
    last = words[-1] if words else table
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join([*words[:-1], last])


def _across_entities(
    metrics: list[dict[str, Any]], aggregates: list[str], per: Any, rows: dict[str, Any]
) -> list[dict[str, Any]]:
    """The output columns of a per-entity aggregate: "Median revenue per order" for median_revenue."""
    from semantic.query import percentile_share

    columns = []
    for aggregate in aggregates:
        if aggregate == "count":
            table = str(per or "rows")
            columns.append(
                {"name": f"number_of_{table}", "label": f"Number of {table.replace('_', ' ')}",
                 "definition": "", "expression": None, "filter": None, "format": None, "additive": False}
            )  # fmt: skip
            continue
        share = percentile_share(aggregate)
        words = AGGREGATE_WORDS.get(aggregate) or f"{round((share or 0) * 100)}th percentile of"
        for metric in metrics:
            row = rows.get(metric["name"])
            entity = _entity_words(str(per or (row.table if row else "row")))
            columns.append(
                {
                    **metric,
                    "name": f"{aggregate}_{metric['name']}",
                    "label": f"{words[:1].upper()}{words[1:]} {metric['label'].lower()} per {entity}",
                    "additive": False,
                }
            )
    return columns


def _shares_and_growth(metrics: list[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The output columns of a share ("Share of revenue in the total") or a growth ("Revenue 2023",
    "Revenue 2024", "Growth of revenue"), named as the compiler names them."""
    from semantic.query import SemanticError, parse_growth

    percent = query.get("percent") is True
    columns = []
    for metric in metrics:
        name, label = metric["name"], metric["label"]
        share_format = None if percent else "percent"
        if query.get("share") is True:
            shown = f"{'Percent' if percent else 'Share'} of {label.lower()} in the total"
            columns += [
                metric,
                {**metric, "name": f"{'percent' if percent else 'share'}_of_{name}", "label": shown,
                 "format": share_format, "additive": False},
            ]  # fmt: skip
            continue
        try:
            growth = parse_growth(query["growth"])
        except SemanticError:
            return metrics
        assert growth is not None
        for suffix in growth.labels:
            columns.append(
                {**metric, "name": f"{name}_{suffix}", "label": f"{label} {suffix.replace('_', ' ')}"}
            )
        columns.append(
            {**metric, "name": f"{'percent_' if percent else ''}growth_{name}",
             "label": f"Growth of {label.lower()}{' (%)' if percent else ''}", "format": share_format,
             "additive": False}
        )  # fmt: skip
    return columns


def _is_additive_metric(row: Any) -> bool:
    """A metric that is one SUM or plain COUNT: its values over separate groups add up."""
    tree = _parse(row.expression)
    return tree is not None and _is_additive(tree)


def _filter_words(condition: dict[str, Any], label) -> str:
    op = str(condition.get("op", "=")).lower()
    value = condition.get("value")
    if op == "between" and isinstance(value, list) and len(value) == 2:
        shown = f"{_value_words(value[0])} and {_value_words(value[1])}"
    elif isinstance(value, list):
        shown = ", ".join(_value_words(v) for v in value)
    else:
        shown = _value_words(value)
    if value is None and op in ("=", "!="):
        return f"{label(condition.get('field')).lower()} is {'not ' if op == '!=' else ''}empty"
    return f"{label(condition.get('field')).lower()} {OPERATOR_WORDS.get(op, op)} {shown}"


def _value_words(value: Any) -> str:
    return "empty" if value is None else str(value)


def _period_words(time_range: Any) -> str | None:
    """ "2024", "2024-Q2", "March 2024" or "from 2024-01-05 to 2024-02-10" for an inclusive range."""
    if isinstance(time_range, str | int) and not isinstance(time_range, bool):
        return str(time_range)
    if not isinstance(time_range, dict):
        return None
    start, end = _date(time_range.get("start")), _date(time_range.get("end"))
    if start and end:
        following = end + dt.timedelta(days=1)
        if start.month == 1 and start.day == 1 and following == dt.date(start.year + 1, 1, 1):
            return str(start.year)
        if start.day == 1 and following.day == 1:
            months = (following.year - start.year) * 12 + following.month - start.month
            if months == 1:
                return start.strftime("%B %Y")
            if months == 3 and start.month % 3 == 1:
                return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        return f"from {start.isoformat()} to {end.isoformat()}"
    if start:
        return f"from {start.isoformat()}"
    if end:
        return f"up to {end.isoformat()}"
    return None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


# --- the SQL path ----------------------------------------------------------------------------------


def _parse(sql: str) -> exp.Expr | None:
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None


def _tables(tree: exp.Expr) -> list[str]:
    """The catalog tables the query reads (not its CTEs), in the order they appear."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = [t.name for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes]
    return list(dict.fromkeys(names))


def _outer_select(tree: exp.Expr) -> exp.Select | None:
    if isinstance(tree, exp.Select):
        return tree
    return tree.find(exp.Select)


def _from_sql(tree: exp.Expr) -> dict[str, Any]:
    select = _outer_select(tree)
    if select is None:
        return {"summary": "A query over several parts", "metrics": [], "filters": [], "grouping": [],
                "period": None, "order": None, "limit": None, "notes": []}  # fmt: skip
    from_table = select.args.get("from_") or select.args.get("from")
    table = from_table.this.name if from_table is not None and isinstance(from_table.this, exp.Table) else ""
    metrics = []
    for projection in select.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if inner.find(exp.AggFunc) is None:
            continue
        metrics.append(
            {
                "name": projection.alias_or_name,
                "label": _aggregate_words(inner, table),
                "definition": "",
                "expression": inner.sql("duckdb"),
                "filter": None,
                "format": None,
                "additive": _is_additive(inner),
            }
        )
    where = select.args.get("where")
    filters = [_condition_words(c) for c in _conjuncts(where.this)] if where is not None else []
    having = select.args.get("having")
    if having is not None:
        filters += [f"groups where {_condition_words(c)}" for c in _conjuncts(having.this)]
    group = select.args.get("group")
    grouping = (
        [_expression_words(positional(g, select)) for g in group.expressions] if group is not None else []
    )
    order = []
    order_node = select.args.get("order")
    for item in order_node.expressions if order_node is not None else []:
        direction = "highest" if item.args.get("desc") else "lowest"
        order.append(f"{direction} {_expression_words(positional(item.this, select))} first")
    limit_node = select.args.get("limit")
    limit = None
    if limit_node is not None and isinstance(limit_node.expression, exp.Literal):
        limit = int(limit_node.expression.this) if limit_node.expression.is_int else None
    if metrics:
        subject = " and ".join(m["label"] for m in metrics)
    else:
        shown = ", ".join(_expression_words(p) for p in select.expressions[:6])
        subject = f"Rows of {table} ({shown})" if table else f"Rows ({shown})"
    parts = [subject[:1].upper() + subject[1:]]
    if grouping:
        parts.append("by " + " and ".join(grouping))
    if filters:
        parts.append("where " + " and ".join(filters))
    parts += order
    if limit is not None:
        parts.append(f"top {limit}" if order else f"first {limit} rows")
    return {
        "summary": ", ".join(parts),
        "metrics": metrics,
        "filters": filters,
        "grouping": grouping,
        "period": None,
        "order": ", ".join(order) or None,
        "limit": limit,
        "notes": [],
    }


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    condition = condition.unnest()
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _expression_words(node: exp.Expr) -> str:
    """A column, a date part or an aggregate as words: "country", "month of order_date", "count of rows"."""
    node = node.this if isinstance(node, exp.Alias | exp.Ordered) else node
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
        unit = node.args.get("unit")
        unit_text = unit.name if isinstance(unit, exp.Expression) else str(unit or "")
        return f"{unit_text.lower()} of {_expression_words(node.this)}"
    for part, kind in ((exp.Year, "year"), (exp.Quarter, "quarter"), (exp.Month, "month"), (exp.Day, "day")):
        if isinstance(node, part):
            return f"{kind} of {_expression_words(node.this)}"
    if isinstance(node, exp.Extract):
        return f"{node.this.name.lower()} of {_expression_words(node.expression)}"
    if isinstance(node, exp.AggFunc):
        return _aggregate_words(node, "")
    if isinstance(node, exp.Literal):
        return node.this
    return node.sql("duckdb")


def _aggregate_words(node: exp.Expr, table: str) -> str:
    aggregate = node if isinstance(node, exp.AggFunc) else node.find(exp.AggFunc)
    if aggregate is None or aggregate is not node:
        return node.sql("duckdb")
    argument = aggregate.this
    if isinstance(aggregate, exp.Count):
        if argument is None or isinstance(argument, exp.Star):
            return f"number of rows of {table}" if table else "number of rows"
        if isinstance(argument, exp.Distinct):
            return "number of different " + ", ".join(_expression_words(e) for e in argument.expressions)
        return f"number of {_expression_words(argument)} values"
    words = {exp.Sum: "total", exp.Avg: "average", exp.Min: "lowest", exp.Max: "highest"}
    for kind, word in words.items():
        if isinstance(aggregate, kind):
            return f"{word} {_expression_words(argument)}"
    return aggregate.sql("duckdb")


def _condition_words(condition: exp.Expr) -> str:
    comparisons = {exp.EQ: "is", exp.NEQ: "is not", exp.GT: "is above", exp.GTE: "is at least",
                   exp.LT: "is below", exp.LTE: "is at most"}  # fmt: skip
    for kind, word in comparisons.items():
        if isinstance(condition, kind):
            return f"{_expression_words(condition.this)} {word} {_expression_words(condition.expression)}"
    if isinstance(condition, exp.Not) and isinstance(condition.this, exp.In):
        return f"{_expression_words(condition.this.this)} is not one of {_in_values(condition.this)}"
    if isinstance(condition, exp.In):
        return f"{_expression_words(condition.this)} is one of {_in_values(condition)}"
    if isinstance(condition, exp.Between):
        low, high = condition.args["low"], condition.args["high"]
        return f"{_expression_words(condition.this)} is between {_expression_words(low)} and {_expression_words(high)}"
    if isinstance(condition, exp.Is):
        return f"{_expression_words(condition.this)} is empty"
    if isinstance(condition, exp.Not) and isinstance(condition.this, exp.Is):
        return f"{_expression_words(condition.this.this)} is not empty"
    if isinstance(condition, exp.Like | exp.ILike):
        return f"{_expression_words(condition.this)} matches {_expression_words(condition.expression)}"
    return condition.sql("duckdb")


def _in_values(node: exp.In) -> str:
    if node.args.get("query") is not None:
        return "the rows of a subquery"
    return ", ".join(_expression_words(e) for e in node.expressions)


def _is_additive(node: exp.Expr) -> bool:
    """A lone SUM or COUNT (not DISTINCT): its values over separate groups add up to the whole."""
    node = node.this if isinstance(node, exp.Alias) else node
    if not isinstance(node, ADDITIVE):
        return False
    return not (isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct))


# --- output columns --------------------------------------------------------------------------------


def _columns(state: AnswerState, metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per result column: its label, how its values read (currency, percent, number, date, text) and
    whether a total over the rows means something."""
    from analytics_chat.presentation.compose import column_formats

    data = state.data
    if not data or not data.get("columns"):
        return []
    by_name = {m["name"]: m for m in metrics}
    try:
        formats = column_formats(data, metrics)
    except (TypeError, ValueError):  # a result of another shape: no formats rather than no answer
        return []
    columns = []
    for name, (kind, unit) in zip(data["columns"], formats, strict=True):
        metric = by_name.get(name)
        columns.append(
            {
                "name": name,
                "label": metric["label"] if metric and state.semantic_query else name,
                "format": kind,
                "unit": unit,
                "total": bool(metric and metric["additive"]) and len(data["rows"]) > 1,
            }
        )
    return columns


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _clause(text: str) -> str:
    """A description as a clause: first letter lower-case (unless an acronym), no final full stop."""
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text
