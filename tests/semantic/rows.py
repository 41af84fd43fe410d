"""Comparing query results as multisets of rows, numbers with a tolerance."""

from __future__ import annotations

import datetime as dt
import decimal
import math


def _normal(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date()
    return value


def _sort_key(row):
    return tuple((0, round(v, 4), "") if isinstance(v, float | int) else (1, 0, str(v)) for v in row)


def assert_same_rows(actual: list[tuple], expected: list[tuple], order_matters: bool = False) -> None:
    """Rows equal as multisets (or in order), numbers to a relative tolerance of 1e-9."""
    actual = [tuple(_normal(v) for v in row) for row in actual]
    expected = [tuple(_normal(v) for v in row) for row in expected]
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    if not order_matters:
        actual, expected = sorted(actual, key=_sort_key), sorted(expected, key=_sort_key)
    for got, want in zip(actual, expected, strict=True):
        assert len(got) == len(want), f"{got} vs {want}"
        for a, b in zip(got, want, strict=True):
            if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{got} != {want}"
            else:
                assert a == b, f"{got} != {want}"
