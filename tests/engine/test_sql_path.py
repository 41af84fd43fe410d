"""write_sql on a real imported SQLite shop with the scripted generator: checks, correction round, errors."""

from __future__ import annotations

import pytest

from analytics_chat.engine.sql_path import write_sql
from analytics_chat.llm.base import CancelToken, GenerationOptions
from analytics_chat.llm.scripted import ScriptedGenerator
from analytics_chat.pipeline.state import StageError, Turn
from catalog.execution import run_query


class Recording:
    """The scripted generator, remembering the messages and grammar of every call."""

    def __init__(self, rules: list[dict[str, str]], default: str = "SELECT 'CANNOT_ANSWER'"):
        self.inner = ScriptedGenerator.from_script(
            "scripted", {"rules": rules, "default": default, "token_delay_ms": 0}
        )
        self.name, self.context_size = self.inner.name, self.inner.context_size
        self.calls: list[dict] = []

    def complete(self, messages, **kwargs):
        self.calls.append({"messages": messages, "grammar": kwargs.get("grammar")})
        return self.inner.complete(messages, **kwargs)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def ask(generator, source, question, tables=None, history=()):
    return write_sql(question, source, tables, list(history), generator, GenerationOptions(), CancelToken())


def rows(source, sql):
    return sorted(tuple(r) for r in run_query(source, sql).rows)


def test_good_draft_is_qualified_and_runs(shop):
    generator = Recording(
        [{"match": "France", "response": "SELECT name FROM customers WHERE country = 'France'"}]
    )
    draft = ask(generator, shop, "Which customers are from France?")
    assert draft.attempts == [] and len(generator.calls) == 1
    assert "customers.name" in draft.sql and "customers.country" in draft.sql
    assert rows(shop, draft.sql) == [("Luc Petit",), ("Marie Curie",)]
    grammar = generator.calls[0]["grammar"]
    assert '"\\"customers\\""' in grammar and '"\\"Show Time\\""' in grammar  # built from the real catalog


def test_failing_draft_gets_exactly_one_correction_that_sees_the_error(shop):
    generator = Recording([
        {"match": "The query failed", "response": "SELECT name FROM customers WHERE country = 'France'"},
        {"match": "France", "response": "SELECT nom FROM customers WHERE country = 'France'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "Which customers are from France?")
    assert len(generator.calls) == 2
    assert [a["sql"] for a in draft.attempts] == ["SELECT nom FROM customers WHERE country = 'France'"]
    error = draft.attempts[0]["error"]
    assert "nom" in error
    correction = generator.calls[1]["messages"][-1]["content"]
    assert error in correction and "customers: customer_id, name, country, signup_year" in correction
    assert generator.calls[1]["messages"][-2] == {"role": "assistant", "content": draft.attempts[0]["sql"]}
    assert rows(shop, draft.sql) == [("Luc Petit",), ("Marie Curie",)]
    assert len(draft.generations) == 2


def test_a_draft_that_finds_no_rows_gets_the_correction_round(shop):
    generator = Recording([
        {"match": "returned no rows", "response": "SELECT name FROM customers WHERE country = 'France'"},
        {"match": "France", "response": "SELECT name FROM customers WHERE country = 'Frence'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "Which customers are from France?")
    assert len(generator.calls) == 2
    assert "INTERSECT" in generator.calls[1]["messages"][-1]["content"]  # the hint names the usual causes
    assert rows(shop, draft.sql) == [("Luc Petit",), ("Marie Curie",)]
    assert [a["sql"] for a in draft.attempts] == ["SELECT name FROM customers WHERE country = 'Frence'"]


def test_a_value_in_another_case_takes_the_stored_spelling_without_a_round(shop):
    generator = Recording(
        [{"match": "France", "response": "SELECT name FROM customers WHERE country = 'france'"}]
    )
    draft = ask(generator, shop, "Which customers are from France?")
    assert len(generator.calls) == 1 and "'France'" in draft.sql
    assert rows(shop, draft.sql) == [("Luc Petit",), ("Marie Curie",)]


@pytest.mark.parametrize(
    "rewrite",
    [
        "SELECT name FROM customers WHERE country = 'peru'",  # finds nothing either
        "SELECT 'CANNOT_ANSWER'",  # gives up
    ],
)
def test_an_empty_answer_stands_when_the_rewrite_finds_nothing_or_gives_up(shop, rewrite):
    first = "SELECT name FROM customers WHERE country = 'Peru'"
    generator = Recording([
        {"match": "returned no rows", "response": rewrite},
        {"match": "Peru", "response": first},
    ])  # fmt: skip
    draft = ask(generator, shop, "Which customers are from Peru?")
    assert len(generator.calls) == 2 and draft.attempts == []
    assert "'Peru'" in draft.sql and rows(shop, draft.sql) == []


def test_second_failure_stops_with_both_attempts(shop):
    generator = Recording([{"match": ".", "response": "SELECT price FROM customers"}])
    with pytest.raises(StageError) as caught:
        ask(generator, shop, "What do customers pay?")
    assert caught.value.code == "invalid_sql"
    assert len(generator.calls) == 2 and len(caught.value.details["attempts"]) == 2


def test_a_table_outside_the_scope_is_an_error_the_model_sees(shop):
    generator = Recording([
        {"match": "The query failed", "response": "SELECT count(*) FROM orders"},
        {"match": ".", "response": "SELECT count(*) FROM customers"},
    ])  # fmt: skip
    draft = ask(generator, shop, "How many orders?", tables=["orders"])
    assert "customers" in draft.attempts[0]["error"]
    assert "customers" not in generator.calls[0]["messages"][0]["content"]
    assert rows(shop, draft.sql) == [(7,)]


def test_cannot_answer_is_a_stage_error(shop):
    generator = Recording([], default="SELECT 'CANNOT_ANSWER'")
    with pytest.raises(StageError) as caught:
        ask(generator, shop, "What will the weather be tomorrow?")
    assert caught.value.code == "cannot_answer"
    assert len(generator.calls) == 1


def test_other_dialects_are_transpiled_to_duckdb(shop):
    generator = Recording([{"match": ".", "response": "SELECT `title` FROM products WHERE price > 100;"}])
    draft = ask(generator, shop, "Expensive products?")
    assert "`" not in draft.sql
    assert rows(shop, draft.sql) == [("Oak Desk",), ("Office Chair",)]


def test_names_that_need_quotes_work(shop):
    generator = Recording(
        [{"match": ".", "response": 'SELECT "Show Time" FROM "show" WHERE venue = \'Garden\''}]
    )
    assert rows(shop, ask(generator, shop, "When is the garden show?").sql) == [("18:30",)]


def test_follow_up_shows_the_previous_question_and_sql(shop):
    previous = Turn(ask="How many customers are there?", sql="SELECT count(*) FROM customers")
    generator = Recording([
        {"match": "Previous SQL: SELECT count", "response": "SELECT count(*) FROM customers WHERE country = 'Japan'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "only for Japan", history=[previous])
    user = generator.calls[0]["messages"][-1]["content"]
    assert "Previous question: How many customers are there?" in user
    assert user.rstrip().endswith("Question: only for Japan")
    assert rows(shop, draft.sql) == [(1,)]


def test_system_prompt_is_the_same_for_different_questions(shop):
    generator = Recording([{"match": ".", "response": "SELECT count(*) FROM orders"}])
    ask(generator, shop, "How many orders?")
    ask(generator, shop, "How many orders from France?")
    first, second = (call["messages"][0]["content"] for call in generator.calls)
    assert first == second
    assert "values: 'France', 'Japan', 'Spain', 'United States'" in first


def test_unknown_source_is_a_clear_error(db):
    with pytest.raises(StageError, match="data source 'nope' does not exist") as error:
        ask(Recording([]), "nope", "anything?")
    assert error.value.code == "unknown_scope"  # the code of the pipeline's own check of the scope


def test_column_on_a_table_missing_from_the_query_is_explained(shop):
    fixed = (
        "SELECT customers.name FROM customers JOIN orders ON orders.customer_id = customers.customer_id "
        "JOIN products ON products.product_id = orders.product_id WHERE products.title = 'Oak Desk'"
    )
    generator = Recording([
        {"match": "The query failed", "response": fixed},
        {"match": ".", "response": "SELECT T1.name FROM customers AS T1 WHERE T1.title = 'Oak Desk'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "Who bought the oak desk?")
    error = draft.attempts[0]["error"]
    assert "T1 is customers, which has no column title" in error and "title is in products" in error
    assert generator.calls[1]["grammar"] == generator.calls[0]["grammar"]
    assert rows(shop, draft.sql) == [("Kenji Sato",), ("Luc Petit",)]


def test_a_column_on_the_wrong_joined_table_is_moved_without_a_model_round(shop):
    generator = Recording([
        {"match": ".", "response": "SELECT T2.name FROM orders AS T1 JOIN customers AS T2 ON T1.customer_id = T2.customer_id WHERE T2.status = 'returned'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "Who returned an order?")
    assert len(generator.calls) == 1 and draft.attempts == []
    assert rows(shop, draft.sql) == [("Luc Petit",)]


def test_two_columns_of_a_table_missing_from_the_query_both_read_it(shop):
    # title brings products in; category, on the same wrong table, is then moved to it as well.
    generator = Recording([
        {"match": ".", "response": "SELECT T1.title, T1.category FROM orders AS T1 WHERE T1.status = 'returned'"},
    ])  # fmt: skip
    draft = ask(generator, shop, "Which products were returned?")
    assert len(generator.calls) == 1 and draft.attempts == []
    assert "JOIN products" in draft.sql
    assert rows(shop, draft.sql) == [("Floor Lamp", "Lighting")]
