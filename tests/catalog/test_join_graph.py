"""The one join graph: keys between two tables, breadth-first paths, and the compiler's least-fan-out tree."""

from __future__ import annotations

import doctest

from catalog import join_graph
from catalog.join_graph import JoinGraph, Key

# author <- book <- loan, and author <- award <- loan: two equally short ways from author to loan.
KEYS = [
    Key("book", "author_id", "author", "id"),
    Key("loan", "book_id", "book", "id"),
    Key("award", "author_id", "author", "id"),
    Key("loan", "award_id", "award", "id"),
    Key("author", "mentor_id", "author", "id"),
]


def test_docstring_examples_run():
    result = doctest.testmod(join_graph)
    assert result.attempted > 0 and result.failed == 0


def test_keys_in_either_direction_and_any_case():
    graph = JoinGraph(KEYS)
    assert graph.keys("Author", "BOOK") == [("id", "author_id")]
    assert graph.keys("book", "author") == [("author_id", "id")]
    assert graph.keys("author", "author") == [("mentor_id", "id"), ("id", "mentor_id")]
    assert graph.key("book", "award") is None


def test_the_first_declared_of_equally_short_paths_wins_and_hops_are_bounded():
    graph = JoinGraph(KEYS)
    assert graph.path(["author"], "loan") == ["author", "book", "loan"]
    assert graph.path(["author"], "loan", max_hops=1) == []
    assert graph.path(["award", "author"], "loan") == ["award", "loan"]


def test_the_tree_prefers_the_path_with_the_smaller_penalty():
    graph = JoinGraph(KEYS)
    # Without penalties, equally short paths go by the tables' names: award before book.
    assert graph.tree("author", penalty=lambda hop: 0)["loan"][0] == "award"
    tree = graph.tree("author", penalty=lambda hop: int(hop.to_table == "award"))
    assert tree["loan"][0] == "book" and tree["book"][0] == "author"
