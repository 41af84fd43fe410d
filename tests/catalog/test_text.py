"""The one tokenizer: its docstring examples, and the differences between its callers that are on purpose."""

from __future__ import annotations

import doctest

from catalog import text


def test_docstring_examples_run():
    result = doctest.testmod(text)
    assert result.attempted > 0 and result.failed == 0


def test_each_caller_keeps_its_own_matching():
    # Linking splits camelCase and stems plurals only; retrieval also strips verb endings; comparing two
    # questions does not stem at all.
    assert text.name_words("shippedOrders") == ["shipped", "order"]
    assert text.search_words("shippedOrders") == ["shippedorder"]
    assert text.search_words("shipped orders") == ["ship", "order"]
    assert text.question_words("shipped orders") == {"shipped", "orders"}
    # Linking drops stopwords after stemming ("names" -> "name"), retrieval before ("names" stays a word).
    assert text.content_words("names of houses") == {"hous"}
    assert text.search_words("names of houses") == ["name", "house"]
