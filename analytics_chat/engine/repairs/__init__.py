"""Deterministic repairs of a model's SQL draft, on the sqlglot AST, before DuckDB binds it.

Each repair fixes one slip that small models make often and that a correction round rarely fixes, and
leaves a query alone unless it is clearly broken or clearly not what was asked. Every repair has one
signature (:class:`Repair`) and returns the tree, or a repaired copy. The SQL path runs them in the order
of two lists: :data:`BEFORE_GUARD` on the draft as the model wrote it, :data:`QUALIFIED` on the guard's
SQL, where every column is ``alias.column``. The README's table of repairs is written from these lists
(``python manage.py document_repairs --write README.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlglot import exp

from analytics_chat.engine.linking import LinkedSchema

from .columns import describe_misplaced_columns, move_misplaced_columns, respell_columns
from .comparisons import compare_many_rows_with_in, flip_impossible_extremes, look_up_stored_values
from .functions import order_quantile_arguments, read_date_parts_as_numbers
from .grouping import (
    move_aggregates_to_having,
    move_compared_aggregates_to_having,
    pick_any_value_of_ungrouped,
    show_group_columns,
    show_names_beside_keys,
    show_ranking_measures,
)
from .joins import (
    add_missing_joins,
    bridge_joins,
    deduplicate_joined_rows,
    follow_declared_keys,
    prune_unused_joins,
    repair_join_conditions,
)
from .negation import (
    compare_set_operations_by_key,
    correlate_exists_subqueries,
    find_unmatched_rows,
    negate_membership,
)
from .ordering import order_dates_as_asked
from .scales import scale_shares_as_asked
from .types import align_membership_types, cast_text_numbers


class Repair(Protocol):
    """A repair: the draft's tree, the schema the question was linked to and the question, in; the tree
    (unchanged) or a repaired copy, out."""

    __name__: str

    def __call__(self, tree: exp.Expression, *, schema: LinkedSchema, question: str) -> exp.Expression: ...


# On the draft as written, before the guard qualifies it (the guard refuses a column it cannot place).
BEFORE_GUARD: tuple[Repair, ...] = (
    respell_columns,
    move_misplaced_columns,
    add_missing_joins,
    bridge_joins,
    move_misplaced_columns,  # again: a column can only move to a table once that table is joined
)

# On the guard's qualified SQL (every column alias.column), in this order.
QUALIFIED: tuple[Repair, ...] = (
    repair_join_conditions,
    follow_declared_keys,
    prune_unused_joins,
    cast_text_numbers,
    look_up_stored_values,
    compare_set_operations_by_key,
    align_membership_types,
    compare_many_rows_with_in,
    move_aggregates_to_having,
    move_compared_aggregates_to_having,
    flip_impossible_extremes,
    order_quantile_arguments,
    read_date_parts_as_numbers,
    pick_any_value_of_ungrouped,
    show_group_columns,
    show_ranking_measures,
    show_names_beside_keys,
    find_unmatched_rows,
    negate_membership,
    correlate_exists_subqueries,
    deduplicate_joined_rows,
    order_dates_as_asked,
    scale_shares_as_asked,
)


def apply_repairs(
    repairs: Iterable[Repair], tree: exp.Expression, *, schema: LinkedSchema, question: str
) -> exp.Expression:
    """``tree`` after each of ``repairs`` in turn."""
    for repair in repairs:
        tree = repair(tree, schema=schema, question=question)
    return tree


__all__ = [
    "BEFORE_GUARD",
    "QUALIFIED",
    "Repair",
    "add_missing_joins",
    "align_membership_types",
    "apply_repairs",
    "bridge_joins",
    "cast_text_numbers",
    "compare_many_rows_with_in",
    "compare_set_operations_by_key",
    "correlate_exists_subqueries",
    "deduplicate_joined_rows",
    "describe_misplaced_columns",
    "find_unmatched_rows",
    "flip_impossible_extremes",
    "follow_declared_keys",
    "look_up_stored_values",
    "move_aggregates_to_having",
    "move_compared_aggregates_to_having",
    "move_misplaced_columns",
    "negate_membership",
    "order_dates_as_asked",
    "pick_any_value_of_ungrouped",
    "prune_unused_joins",
    "read_date_parts_as_numbers",
    "repair_join_conditions",
    "respell_columns",
    "scale_shares_as_asked",
    "show_group_columns",
    "show_names_beside_keys",
    "show_ranking_measures",
]
