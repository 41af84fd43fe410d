"""Which end of an ordering a question's superlative means."""

from __future__ import annotations

import re

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema
from catalog.column_types import duckdb_type, is_temporal

from .helpers import column_infos

# Superlatives of age, tenure or time: the oldest row has the earliest date, the newest the latest.
_EARLIEST = re.compile(
    r"\b(oldest|earliest|first|longest[-\s]+(?:tenured|serving|standing)|most\s+senior)\b", re.IGNORECASE
)
_LATEST = re.compile(
    r"\b(newest|latest|youngest|last|most\s+recent(?:ly)?|shortest[-\s]+(?:tenured|serving)|least\s+senior)\b",
    re.IGNORECASE,
)
_NAME_PARTS = re.compile(r"\b(first|last)\s+names?\b", re.IGNORECASE)  # a column, not a superlative


def order_dates_as_asked(tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression:
    """ "The longest-tenured rep" is the one hired first: ``ORDER BY hire_date DESC LIMIT 1`` finds the
    newest hire, so the order is turned round. A question of one kind of superlative only (oldest,
    earliest, first, longest-serving: the earliest date; newest, latest, youngest, most recent: the latest)
    ranking by one date column with a LIMIT is ordered that way.

    >>> from sqlglot import parse_one
    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> staff = schema("CREATE TABLE employee (employee_id BIGINT, name VARCHAR, hired_on DATE)")
    >>> draft = parse_one("SELECT e.name FROM employee AS e ORDER BY e.hired_on DESC LIMIT 1")
    >>> order_dates_as_asked(draft, schema=staff, question="Who is our longest-serving employee?").sql("duckdb")
    'SELECT e.name FROM employee AS e ORDER BY e.hired_on LIMIT 1'
    """
    text = _NAME_PARTS.sub(" ", question)
    earliest, latest = bool(_EARLIEST.search(text)), bool(_LATEST.search(text))
    if earliest == latest or not isinstance(tree, exp.Select) or tree.args.get("limit") is None:
        return tree
    order = tree.args.get("order")
    if order is None or len(order.expressions) != 1:
        return tree
    key = order.expressions[0].this
    if isinstance(key, exp.Column) and not key.table:  # an output alias: the column it names
        named = [e.unalias() for e in tree.expressions if e.alias_or_name == key.name]
        key = named[0] if named else key
    info = column_infos(tree, schema.scope).get(id(key)) if isinstance(key, exp.Column) else None
    if info is None or not is_temporal(duckdb_type(info[1].data_type or "", "duckdb")):
        return tree
    if bool(order.expressions[0].args.get("desc")) == latest:
        return tree
    tree = tree.copy()
    tree.args["order"].expressions[0].set("desc", True if latest else None)  # None: ascending, unwritten
    return tree
