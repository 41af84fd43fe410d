"""The SQL and semantic paths with the real 0.5B model through llama.cpp (slow: marked ``model``)."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from analytics_chat.engine.evaluation import Question, floor_answer
from analytics_chat.engine.grammar import build_sql_grammar
from analytics_chat.engine.linking import link_schema
from analytics_chat.engine.prompts import sql_messages
from analytics_chat.engine.semantic_path import plan_semantic_query
from analytics_chat.engine.sql_path import write_sql
from analytics_chat.llm.base import CancelToken, GenerationOptions, GenerationResult
from analytics_chat.pipeline.state import Turn
from catalog.execution import run_query

from .conftest import SMALL_MODEL

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def small_model():
    if not SMALL_MODEL.is_file():
        pytest.skip(f"test model missing: {SMALL_MODEL}")
    from analytics_chat.llm.llama import LlamaGenerator
    from analytics_chat.models import LLMModel

    return LlamaGenerator(
        LLMModel(name="qwen-0.5b-test", path=str(SMALL_MODEL), context_size=4096, threads=2)
    )


def test_real_model_answers_a_simple_question(shop, small_model):
    draft = write_sql(
        "How many customers are from France?", shop, None, [], small_model, GenerationOptions(), CancelToken()
    )
    assert run_query(shop, draft.sql).rows == [[2]]
    assert draft.generations[0].completion_tokens > 0


def test_floor_replays_the_gold_query_after_the_pipelines_own_prompt(shop, small_model):
    gold = "SELECT count(*) FROM customers WHERE country = 'France'"
    question = Question(
        id="f1", question="How many customers are from France?", gold_sql=gold, source=shop.name
    )
    state, first_token_ms, error = floor_answer(question, small_model)
    assert error is None and state.path == "floor" and state.sql == gold
    assert state.usage["completion_tokens"] == small_model.count_tokens(gold)
    # the prompt is the SQL path's own: its schema prefix is there to be read
    assert state.usage["prompt_tokens"] > 5 * state.usage["completion_tokens"]
    assert 0 < first_token_ms < state.timings_ms["sql"]


def test_constrained_output_names_only_real_tables_and_columns(shop, small_model):
    question = "List the nationality, birthday and email address of every customer."  # none of these exist
    linked = link_schema(question, shop, None, [])
    result = small_model.complete(
        sql_messages(question, linked),
        options=GenerationOptions(temperature=0.0, max_tokens=80),
        grammar=build_sql_grammar(linked),
    )
    text = result.text
    if result.finish_reason == "length":  # cut off at max_tokens: the last name may be unfinished
        text = text.rsplit(",", 1)[0]
    tree = sqlglot.parse_one(text, read="duckdb")
    tables = {t.name for t in linked.tables}
    columns = {c.name for t in linked.tables for c in t.columns}
    output_aliases = {a.alias for a in tree.find_all(exp.Alias)}
    assert {t.name for t in tree.find_all(exp.Table)} <= tables, result.text
    assert {c.name for c in tree.find_all(exp.Column)} <= columns | output_aliases, result.text


def test_real_model_follow_up_rewrites_the_previous_query(shop, small_model):
    history = [
        Turn(
            ask="How many customers are from France?",
            sql="SELECT COUNT(*) FROM customers WHERE customers.country = 'France'",
        )
    ]
    draft = write_sql("And from Japan?", shop, None, history, small_model, GenerationOptions(), CancelToken())
    assert run_query(shop, draft.sql).rows == [[1]], draft.sql


class _FirstDraftFails:
    """The real model, except that its first draft puts a column that does not exist into the query."""

    def __init__(self, model):
        self.model = model
        self.name = model.name
        self.calls = 0

    def complete(self, messages, **kwargs):
        self.calls += 1
        if self.calls == 1:
            return GenerationResult(
                text="SELECT COUNT(*) FROM customers WHERE customers.nation = 'France'", finish_reason="stop"
            )
        return self.model.complete(messages, **kwargs)


def test_real_model_correction_round_fixes_a_failing_draft(shop, small_model):
    generator = _FirstDraftFails(small_model)
    draft = write_sql(
        "How many customers are from France?", shop, None, [], generator, GenerationOptions(), CancelToken()
    )
    assert generator.calls == 2
    assert "nation" in draft.attempts[0]["error"]
    assert draft.generations[1].completion_tokens > 0  # written by the model, not the stand-in
    assert run_query(shop, draft.sql).rows == [[2]], draft.sql


def test_real_model_semantic_path_answers_from_the_semantic_layer(demo_source, duck, small_model):
    question = "How many orders came through each sales channel?"
    plan = plan_semantic_query(
        question, demo_source, None, [], small_model, GenerationOptions(), CancelToken()
    )
    assert plan is not None and plan.generation.completion_tokens > 0
    assert plan.query["dimensions"] == ["channel"], plan.query
    got = sorted(duck.execute(plan.sql).fetchall())
    want = sorted(duck.execute("SELECT channel, COUNT(*) FROM orders GROUP BY channel").fetchall())
    assert got == want, plan.sql
