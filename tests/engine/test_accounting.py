"""A plan must account for the whole question: the question's statements, and the SQL that leaves one out.

The schema is invented (a library), so no case mirrors an evaluation question.
"""

import doctest

import pytest

from analytics_chat.engine import accounting
from analytics_chat.engine.accounting import question_facts, unaccounted
from analytics_chat.engine.linking import ColumnInfo, Join, SchemaView, TableInfo
from analytics_chat.engine.prompts import sql_hints
from catalog.text import name_words

LIBRARY = SchemaView(
    "library",
    "",
    [
        TableInfo(
            "members",
            [
                ColumnInfo("member_id", "BIGINT", is_primary_key=True),
                ColumnInfo("name", "VARCHAR"),
                ColumnInfo("city", "VARCHAR", profile={"distinct_values": ["Porto", "Lisbon", "Braga"]}),
                ColumnInfo("joined_on", "DATE"),
            ],
        ),
        TableInfo(
            "loans",
            [
                ColumnInfo("loan_id", "BIGINT", is_primary_key=True),
                ColumnInfo("member_id", "BIGINT"),
                ColumnInfo("book_id", "BIGINT"),
                ColumnInfo("loaned_on", "DATE"),
                ColumnInfo("fee", "DOUBLE"),
                ColumnInfo("late_rate", "DOUBLE", synonyms=("lateness rate",)),
                ColumnInfo("returned_on", "DATE"),
            ],
        ),
        TableInfo(
            "books", [ColumnInfo("book_id", "BIGINT", is_primary_key=True), ColumnInfo("title", "VARCHAR")]
        ),
    ],
    [Join("loans", "member_id", "members", "member_id"), Join("loans", "book_id", "books", "book_id")],
)

CASES = [
    # (question, SQL, the kinds of facts the SQL leaves out)
    ("What fees did member 77 pay?", "SELECT sum(fee) FROM loans", ["number"]),
    ("What fees did member 77 pay?", "SELECT sum(fee) FROM loans WHERE member_id = 77", []),
    ("How many loans were made in 2023?", "SELECT count(*) FROM loans", ["year"]),
    ("How many loans were made in 2023?", "SELECT count(*) FROM loans WHERE year(loaned_on) = 2023", []),
    ("How many members joined before 2020?", "SELECT count(*) FROM members WHERE joined_on < DATE '2020-01-01'", []),
    ("Members who joined after 2019?", "SELECT name FROM members WHERE joined_on > '2019-12-31'", []),
    ("How many loans by members from Porto?", "SELECT count(*) FROM loans", ["value"]),
    (
        "How many loans by members from Porto?",
        "SELECT count(*) FROM loans JOIN members USING (member_id) WHERE members.city = 'Porto'",
        [],
    ),
    ("List the loans of Ada Moreira.", "SELECT count(*) FROM loans", ["value", "rows"]),
    ("List the loans of Ada Moreira.", "SELECT loans.* FROM loans JOIN members USING (member_id) WHERE name = 'Ada Moreira'", []),
    ("Which members never borrowed a book?", "SELECT name FROM members", ["negation"]),
    ("Which members never borrowed a book?", "SELECT name FROM members WHERE member_id NOT IN (SELECT member_id FROM loans)", []),
    ("What is the median fee?", "SELECT avg(fee) FROM loans", ["percentile"]),
    ("What is the median fee?", "SELECT median(fee) FROM loans", []),
    ("What is the 90th percentile of fees?", "SELECT quantile_cont(fee, 0.5) FROM loans", ["percentile"]),
    ("What is the 90th percentile of fees?", "SELECT quantile_cont(fee, 0.9) FROM loans", []),
    ("What share of loans had a fee?", "SELECT count(*) FROM loans WHERE fee > 0", ["division", "share_of"]),
    # a share of an entity counts its rows on both sides, and only the rows the question qualifies
    ("What share of loans had a fee?", "SELECT count(*) FILTER (WHERE fee > 0) / count(*) FROM loans", []),
    ("What share of loans had a fee?", "SELECT sum(CASE WHEN fee > 0 THEN 1 ELSE 0 END) / sum(fee) FROM loans", ["share_of"]),
    ("What share of returned loans had a fee?", "SELECT avg(CASE WHEN fee > 0 THEN 1.0 ELSE 0 END) FROM loans", ["share_of"]),
    (
        "What share of returned loans had a fee?",
        "SELECT avg(CASE WHEN fee > 0 THEN 1.0 ELSE 0 END) FROM loans WHERE returned_on IS NOT NULL",
        [],
    ),
    ("What share of loans had a fee?", "SELECT avg(CASE WHEN fee > 0 THEN 1 ELSE 0 END) FROM loans", []),
    ("How many members are there?", "SELECT count(*) FROM books", ["entity"]),
    ("How many members are there?", "SELECT count(*) FROM members", []),
    ("How many different members borrowed?", "SELECT count(DISTINCT member_id) FROM loans", []),
    ("How many different members borrowed?", "SELECT count(DISTINCT loan_id) FROM loans", ["entity"]),
    ("When was the first loan?", "SELECT loaned_on FROM loans", ["extreme"]),
    ("When was the first loan?", "SELECT min(loaned_on) FROM loans", []),
    ("Loans in the last three months", "SELECT count(*) FROM loans WHERE loaned_on >= '2024-10-01'", []),
    ("Loans per weekday", "SELECT loaned_on, count(*) FROM loans GROUP BY 1", ["weekday"]),
    ("Loans per weekday", "SELECT dayname(loaned_on), count(*) FROM loans GROUP BY 1", []),
    ("Top 3 books by loans", "SELECT title FROM books LIMIT 5", ["number"]),
    # one row per group a column names; an order or an operation names no groups
    ("Total fee per city", "SELECT sum(fee) FROM loans", ["grouping"]),
    ("Total fee per city", "SELECT m.city, sum(l.fee) FROM loans l JOIN members m USING (member_id) GROUP BY 1", []),
    ("Members sorted by city", "SELECT name FROM members", []),
    # the fields a list asks for after its colon are shown
    ("List the loans of Ada: the book id and the fee", "SELECT l.fee FROM loans l JOIN members m USING (member_id) WHERE m.name = 'Ada'", ["field"]),
    ("List the loans of Ada: the book id and the fee", "SELECT l.book_id, l.fee FROM loans l JOIN members m USING (member_id) WHERE m.name = 'Ada'", []),
    # a count in words: "a single loan", "only once", "twice"
    ("How many members have a single loan?", "SELECT count(*) FROM members", ["times"]),
    ("How many members have a single loan?", "SELECT count(*) FROM (SELECT member_id FROM loans GROUP BY 1 HAVING count(*) = 1)", []),
    ("Which books were borrowed more than twice?", "SELECT title FROM books", ["times"]),
    # ... and the number compares a count, not any column that happens to hold it
    ("How many members have a single loan?", "SELECT count(DISTINCT member_id) FROM loans WHERE loan_id = 1", ["times"]),
    (
        "Which books were borrowed more than twice?",
        "SELECT title FROM (SELECT book_id, count(*) AS times_lent FROM loans GROUP BY 1) AS t JOIN books USING (book_id) WHERE times_lent > 2",
        [],
    ),
    # a column that says an aggregate word is the column, not a statement: late_rate is no division
    ("What is the average lateness rate?", "SELECT avg(late_rate) FROM loans", []),
    # "do not have more than 2" is the comparison <= 2, not a negation
    ("Which members do not have more than 2 loans?", "SELECT member_id FROM loans GROUP BY 1 HAVING count(*) <= 2", []),
    # a range of years a plan leaves unfiltered is the whole data; one it filters must name both ends
    ("Loans per month, 2021 through 2023", "SELECT date_trunc('month', loaned_on), count(*) FROM loans GROUP BY 1", []),
    (
        "Loans per month, 2021 through 2023",
        "SELECT count(*) FROM loans WHERE loaned_on >= '2022-01-01' AND loaned_on < '2024-01-01'",
        ["year_range", "grain"],
    ),
    # an open period compares on its side of the year
    ("How many members joined before 2020?", "SELECT count(*) FROM members WHERE year(joined_on) = 2020", ["year"]),
    ("How many members joined after 2020?", "SELECT count(*) FROM members WHERE joined_on > '2020-12-31'", []),
    (
        "How many members joined before 2020?",
        "SELECT count(*) FROM members WHERE joined_on >= '2020-01-01' AND joined_on < '2020-01-02'",
        ["year"],
    ),
    # "which ... the most" is one row, the extreme one
    ("Which city has the most members?", "SELECT city, count(*) FROM members GROUP BY city", ["extreme"]),
    ("Which city has the most members?", "SELECT city FROM members GROUP BY city ORDER BY count(*) DESC LIMIT 1", []),
    # "how many" with no groups asked is one figure, not a count per group
    ("How many members have a single loan?", "SELECT member_id, count(*) FROM loans GROUP BY 1 HAVING count(*) = 1", ["one_figure"]),
    ("How many loans per city?", "SELECT city, count(*) FROM loans JOIN members USING (member_id) GROUP BY 1", []),
    # a list is rows, not one figure; a count beside the rows may stay
    ("List the members in Porto.", "SELECT count(*) FROM members WHERE city = 'Porto'", ["rows"]),
    (
        "Which member borrowed the most? List the member id and name.",
        "SELECT m.member_id, m.name, count(*) FROM members m JOIN loans l USING (member_id) GROUP BY 1, 2 "
        "ORDER BY 3 DESC LIMIT 1",
        [],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("question", "sql", "missing"), CASES)
def test_a_plan_accounts_for_what_the_question_states(question, sql, missing):
    facts = question_facts(question, LIBRARY)
    assert [fact.kind for fact in unaccounted(facts, sql, LIBRARY)] == missing


def test_sentence_openers_months_and_schema_words_are_not_names():
    names = accounting.proper_names(
        "Show the loans of March. Which Members from Lisbon borrowed Dune Messiah?",
        accounting.schema_vocabulary(LIBRARY),
    )
    assert names == ["Lisbon", "Dune Messiah"]


def test_missing_facts_are_described_for_the_refusal():
    facts = question_facts("How many loans did member 12 make in 2022?", LIBRARY)
    missing = unaccounted(facts, "SELECT count(*) FROM loans", LIBRARY)
    assert accounting.describe_missing(missing) == "the year 2022 and the number 12"


def test_a_named_metric_is_computed_as_defined():
    needs = accounting.metric_needs("SUM(loans.fee)", "loans.status = 'paid'")
    assert needs == [".fee", "paid"]
    facts = question_facts("Fee income by city", LIBRARY, metrics=[("fee_income", "Fee income", needs)])
    wrong = "SELECT city, count(*) FROM loans JOIN members USING (member_id) GROUP BY city"
    right = (
        "SELECT city, sum(fee) FROM loans JOIN members USING (member_id) WHERE status = 'paid' GROUP BY city"
    )
    assert [f.kind for f in unaccounted(facts, wrong, LIBRARY)] == ["metric"]
    assert unaccounted(facts, right, LIBRARY) == []


def test_a_follow_up_keeps_what_it_does_not_replace():
    first = question_facts("How many loans did members from Porto make in 2022?", LIBRARY)
    follow_up = accounting.with_earlier_turns(question_facts("And in 2023?", LIBRARY), [first])
    assert {(f.kind, f.value) for f in follow_up} >= {
        ("year", "2023"),
        ("value", "Porto"),
        ("entity", "loans"),
    }
    assert ("year", "2022") not in {(f.kind, f.value) for f in follow_up}
    other_city = accounting.with_earlier_turns(question_facts("Only Lisbon.", LIBRARY), [first])
    assert [f.value for f in other_city if f.kind == "value"] == ["Lisbon"]


VOCABULARY = {
    word
    for text in ["members name city joined on loans fee loaned books title author", "Porto Lisbon Braga"]
    for word in name_words(text)
}


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("What is the average salary of our members?", ["salary"]),
        # a place or state the rows must be in, which the data never speaks of
        ("How many loans of Dune do we have in stock at the branch?", ["stock", "branch"]),
        ("How many books are on loan in the archive?", ["archive"]),
        # the same words where they say how, how many or how to show it
        ("List the members in ascending order of name.", []),
        ("Which members have at least 2 loans?", []),
        ("How many loans in total, in a bar chart?", []),
        ("Loans per city in Porto, in general.", []),
        ("How many books are in the library of Porto?", []),
        ("What fee was paid in the loans that were late?", []),
    ],
)
def test_what_the_data_knows_nothing_about_is_named(question, unknown):
    assert accounting.unknown_concepts(question, VOCABULARY) == unknown


def test_module_examples_run():
    assert doctest.testmod(accounting).failed == 0


@pytest.mark.parametrize(
    ("question", "right", "wrong"),
    [
        (
            "What is the average fee per member?",
            "SELECT AVG(total) FROM (SELECT member_id, SUM(fee) AS total FROM loans GROUP BY member_id)",
            "SELECT AVG(fee) FROM loans",
        ),
        (
            "Median fee of each member, by city",
            "WITH t AS (SELECT m.member_id, m.city, SUM(l.fee) AS total FROM loans l JOIN members m "
            "ON m.member_id = l.member_id GROUP BY 1, 2) SELECT city, MEDIAN(total) FROM t GROUP BY city",
            "SELECT m.city, MEDIAN(l.fee) FROM loans l JOIN members m ON m.member_id = l.member_id GROUP BY 1",
        ),
        (
            "What is the 90th percentile of the fee of a loan?",  # the loans' own rows
            "SELECT quantile_cont(fee, 0.9) FROM loans",
            "SELECT quantile_cont(total, 0.9) FROM (SELECT member_id, SUM(fee) AS total FROM loans GROUP BY 1)",
        ),
    ],
)
def test_an_aggregate_of_per_entity_totals_needs_those_totals(question, right, wrong):
    facts = question_facts(question, LIBRARY)
    assert any(f.kind == accounting.PER_ENTITY for f in facts)
    assert not unaccounted(facts, right, LIBRARY)
    assert [f.kind for f in unaccounted(facts, wrong, LIBRARY)] == [accounting.PER_ENTITY]


def test_an_average_by_a_field_of_the_entity_is_a_breakdown():
    facts = question_facts("Average fee per member city", LIBRARY)
    assert not any(f.kind == accounting.PER_ENTITY for f in facts)


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        (
            "How many members have a single loan?",
            "SELECT COUNT(*) FROM (SELECT key FROM ... GROUP BY key HAVING COUNT(*) = 1)",
        ),
        ("Which books were borrowed more than twice?", "HAVING COUNT(*) > 2"),
        ("What share of loans had a fee?", "AVG(CASE WHEN condition THEN 1.0 ELSE 0.0 END)"),
        ("Which members never borrowed a book?", "NOT EXISTS"),
    ],
)
def test_the_sql_prompt_says_how_to_write_what_the_question_states(question, wanted):
    hints = sql_hints(question, question_facts(question, LIBRARY))
    assert any(wanted in hint for hint in hints), hints
    assert not any(
        "HAVING" in hint for hint in sql_hints("How many loans?", question_facts("How many loans?", LIBRARY))
    )
