"""What the wording of a question says about its answer's shape."""

from __future__ import annotations

import pytest

from analytics_chat.engine import shape
from analytics_chat.engine.shape import Ranking, is_refinement, mentioned_year, question_shape


@pytest.mark.parametrize(
    "question, breakdown",
    [
        ("What were total sales in 2023?", False),
        ("What fraction of orders got cancelled?", False),
        ("What is the average discount on Sports products?", False),
        ("How many customers signed up in each country?", True),
        ("Revenue by region", True),
        ("Which city has the most orders?", True),
        ("Top 10 products by gross margin", True),
        ("Show monthly revenue", True),
    ],
)
def test_breakdown_needs_words_for_it(question, breakdown):
    assert question_shape(question).breakdown is breakdown


@pytest.mark.parametrize(
    "question, ranking",
    [
        ("Top 10 products by gross margin", Ranking("desc", 10)),
        ("Which city has the most orders?", Ranking("desc", 1)),
        ("Who sold the least units last year?", Ranking("asc", 1)),
        ("List the five cities with the most customers.", Ranking("desc", 5)),
        ("What are the 3 lowest rated stores?", Ranking("asc", 3)),
        ("Bottom 2 regions by revenue", Ranking("asc", 2)),
        ("Which products sold more than 100 units?", None),  # a comparison, not a superlative
        ("Which category has the highest revenue in each region?", None),  # one row per region
        ("Revenue by channel", None),
    ],
)
def test_rankings(question, ranking):
    assert question_shape(question).ranking == ranking


@pytest.mark.parametrize(
    "question, grain",
    [
        ("Show monthly revenue for 2025", "month"),
        ("Orders per quarter in 2023", "quarter"),
        ("How many orders were placed each year?", "year"),
        ("Orders by week", "week"),
        ("Quarterly revenue trend", "quarter"),  # a named grain wins over "trend"
        ("Revenue trend", "month"),
        ("Revenue in the last 3 months", None),
        ("Revenue by channel", None),
    ],
)
def test_grains(question, grain):
    assert question_shape(question).grain == grain


@pytest.mark.parametrize(
    "question, period",
    [
        ("What were total sales in 2023?", True),
        ("Orders last month", True),
        ("Revenue in Q3", True),
        ("Sales in March", True),
        ("What is the average gap between ordering and delivery?", False),
        ("How many customers do we have?", False),
    ],
)
def test_periods(question, period):
    assert question_shape(question).period is period


@pytest.mark.parametrize(
    "question, values, expected",
    [
        ("Only for Canada.", ["Canada"], True),
        ("and by month?", [], True),
        ("What about 2024?", [], True),
        ("And for United States and Canada instead?", ["United States", "Canada"], True),
        ("and by country?", [], False),  # a new dimension: the model decides
        ("How about the margin?", [], False),
        ("Japan customers", ["Japan"], False),
        ("Thanks!", [], False),
    ],
)
def test_refinements(question, values, expected):
    assert is_refinement(question, values) is expected


@pytest.mark.parametrize(
    ("question", "sorting"),
    [
        ("Customers sorted by signup date", True),
        ("Products ordered by price, descending", True),
        ("Revenue of customers who have ordered twice", False),  # "ordered": a verb, no order asked
    ],
)
def test_sorting_needs_words_for_an_order(question, sorting):
    assert question_shape(question).sorting is sorting


def test_mentioned_year_only_when_one():
    assert mentioned_year("what about 2024?") == "2024"
    assert mentioned_year("2023 versus 2024") is None
    assert mentioned_year("by month") is None


def test_which_n_ranks_n():
    assert question_shape("Which 4 cities brought in the most sales?").ranking == Ranking("desc", 4)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Can you put that in a bar chart?", True),
        ("chart it", True),
        ("Show it as a table.", True),
        ("Show me the SQL for that.", True),
        ("And in 2025?", False),
        ("Split that by channel.", False),
        ("Can you plot revenue instead?", False),
    ],
)
def test_a_follow_up_that_only_changes_how_the_answer_is_shown(question, expected):
    assert shape.is_presentation_change(question) is expected


def test_module_examples_run():
    import doctest

    from analytics_chat.engine import shape

    assert doctest.testmod(shape).failed == 0
