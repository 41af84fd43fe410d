"""The exact context ``retrieve_context`` finds on the demo source for a few questions, pinned in a JSON file.

Everything a caller reads is pinned: each list's items with their scores in order, both JSON views, the
token estimate, the metric candidates and the relationships. ``pinned/retrieval.json`` is what the code
found when the pin was taken (before the function was split). A change that means to alter it writes
the file again with ``AC_UPDATE_PINNED=1 pytest tests/semantic/test_retrieval_pinned.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from semantic.retrieval import SemanticContext, retrieve_context
from tests.pinned import assert_pinned

PINNED = Path(__file__).parent / "pinned" / "retrieval.json"

# id, question, tables, token budget
CASES: list[tuple[str, str, list[str] | None, int]] = [
    ("sales-in-a-year", "How much did we earn from sales in 2023?", None, 800),
    ("revenue-by-country", "revenue by country", None, 4000),
    ("small-budget", "revenue by country", None, 300),
    ("monthly-trend", "Plot the monthly revenue trend per sales channel", None, 800),
    ("cancelled-orders", "how many orders were cancelled?", None, 800),
    ("aov-per-segment", "what is our AOV per segment", None, 800),
    ("shipping-days", "how many days does it take to ship", None, 800),
    ("narrow-scope", "revenue and margin by country, rep and status", ["orders", "customers"], 5000),
    ("no-match", "tell me a joke", None, 800),
]


def snapshot(context: SemanticContext) -> dict[str, Any]:
    """What a caller can read from a context, as JSON (scores of always-included rules are Infinity)."""
    found = {
        kind: [[r.item.name, r.score] for r in getattr(context, kind)]
        for kind in ("statements", "metrics", "dimensions", "tables")
    }
    return json.loads(
        json.dumps(
            {
                **found,
                "semantic_context": context.semantic_context_json(),
                "catalog": context.catalog_json(),
                "token_estimate": context.token_estimate,
                "metric_candidates": context.metric_candidates,
                "question": context.question,
            },
            default=str,
        )
    )


def test_every_case_is_pinned():
    assert sorted(json.loads(PINNED.read_text())) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("question", "tables", "budget"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_context(request, demo_source, question, tables, budget):
    found = snapshot(retrieve_context(question, demo_source, tables=tables, token_budget=budget))
    assert_pinned(PINNED, request.node.callspec.id, found)
