"""Execution accuracy: does an answer's result set equal the gold result set?

The rules are those of /work/shared/eval/README.md:
- rows are compared as multisets, or in order when ``order_matters``;
- numbers are equal within a relative tolerance of 1e-6 (ints, floats and Decimals alike);
- the answer may carry extra columns: it is right when the gold columns can be found among its columns
  (matched by their values, not their names) with the same rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

REL_TOL = 1e-6
# Beyond this many rows the O(n*m) fallback matching is skipped; sorted comparison decides alone.
_GREEDY_MATCH_LIMIT = 3000
# How many column assignments to try before giving up (answers with many similar columns).
_MAX_ASSIGNMENTS = 5000

Row = Sequence[Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def values_equal(left: Any, right: Any) -> bool:
    """One cell against another: numbers within ``REL_TOL``, NaN equals NaN, anything else exactly."""
    if _is_number(left) and _is_number(right):
        a, b = float(left), float(right)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL)
    if isinstance(left, bool) or isinstance(right, bool):
        # DuckDB returns booleans, SQLite 0/1: treat True/1 and False/0 as the same answer.
        both_truthy_kinds = all(isinstance(v, bool) or _is_number(v) for v in (left, right))
        return both_truthy_kinds and float(left) == float(right)
    return left == right


def _sort_key(value: Any) -> tuple[int, Any]:
    """A total order over mixed cells so that equal multisets line up after sorting."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, float(value))
    if _is_number(value):
        number = float(value)
        return (1, -math.inf if math.isnan(number) else number)
    return (2, (type(value).__name__, str(value)))


def _rows_equal(left: Row, right: Row) -> bool:
    return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right, strict=True))


def _same_multiset(answer: Sequence[Row], gold: Sequence[Row]) -> bool:
    if len(answer) != len(gold):
        return False
    sort = lambda rows: sorted(rows, key=lambda row: tuple(_sort_key(v) for v in row))  # noqa: E731
    if all(_rows_equal(a, g) for a, g in zip(sort(answer), sort(gold), strict=True)):
        return True
    if len(gold) > _GREEDY_MATCH_LIMIT:
        return False
    # Values within tolerance can sort differently (1.0000001 vs 1.0 next to 1.00000005): match greedily.
    unmatched = list(gold)
    for row in answer:
        for index, candidate in enumerate(unmatched):
            if _rows_equal(row, candidate):
                del unmatched[index]
                break
        else:
            return False
    return True


def _same_rows(answer: Sequence[Row], gold: Sequence[Row], order_matters: bool) -> bool:
    if order_matters:
        return len(answer) == len(gold) and all(_rows_equal(a, g) for a, g in zip(answer, gold, strict=True))
    return _same_multiset(answer, gold)


def _column(rows: Sequence[Row], index: int) -> list[Row]:
    return [(row[index],) for row in rows]


def results_match(
    answer_rows: Sequence[Row],
    answer_cols: Sequence[str],
    gold_rows: Sequence[Row],
    gold_cols: Sequence[str],
    order_matters: bool,
) -> bool:
    """True when the answer's result set is the gold one (see the module docstring for the rules)."""
    answer = [tuple(row) for row in answer_rows]
    gold = [tuple(row) for row in gold_rows]
    width_answer, width_gold = len(answer_cols), len(gold_cols)
    for name, rows, width in (("answer", answer, width_answer), ("gold", gold, width_gold)):
        if any(len(row) != width for row in rows):
            raise ValueError(f"{name} rows do not all have {width} values, as its column list says")
    if len(answer) != len(gold) or width_answer < width_gold:
        return False
    if width_answer == width_gold and _same_rows(answer, gold, order_matters):
        return True

    # Which answer columns could stand for each gold column (same multiset of values)?
    candidates = [
        [a for a in range(width_answer) if _same_multiset(_column(answer, a), _column(gold, g))]
        for g in range(width_gold)
    ]
    if any(not options for options in candidates):
        return False
    tried = 0
    for assignment in itertools.product(*candidates):
        if len(set(assignment)) != len(assignment):
            continue
        tried += 1
        if tried > _MAX_ASSIGNMENTS:
            return False
        projected = [tuple(row[a] for a in assignment) for row in answer]
        if _same_rows(projected, gold, order_matters):
            return True
    return False
