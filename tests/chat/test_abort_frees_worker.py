"""After an abort, or an answer cut off at its time budget, the worker takes the next job at once (issue 15).

One worker process answers one question at a time, so a question sent while another runs waits in the
queue: the moment a worker claims it (``started_at``, written before any model is loaded) minus the
moment of the abort is how long the aborted answer went on holding the worker. Measured where an answer
can spend long: the model writing under the SQL grammar, DuckDB running a query, the worker's warm-up
holding the model.
"""

from __future__ import annotations

import time

import pytest

from analytics_chat.pipeline.tasks import FINISH_RESERVE_SECONDS, WATCHDOG_SECONDS
from tests.live import (
    LiveService,
    assert_next_job_claimed_quickly,
    queue_behind,
    scripted_model_code,
    stream_in_background,
    wait_until,
    written,
)

pytestmark = [pytest.mark.live]

FOLLOW_UP = "scripted-follow-up"  # answers the queued question at once, whatever model ran before
FOLLOW_UP_QUESTION = {"ask": "How many orders?", "model": FOLLOW_UP}
SLOW_WRITER = "scripted-slow-writer"  # writes 200 tokens, 250 ms each: far past any budget
SLOW_QUERY = "scripted-slow-query"  # writes a query DuckDB runs for many seconds on the demo data
# Every order with every order and every customer: 2.6 trillion rows to count, so DuckDB runs it until
# something stops it (the query time limit, 10 s, at the latest).
SLOW_SQL = (
    "SELECT COUNT(*) AS n FROM orders a CROSS JOIN orders b CROSS JOIN customers c "
    "WHERE (a.order_id + b.order_id + c.customer_id) % 1000 = 7"
)
# A hostile question the 0.5B model answers with a subquery, under the SQL grammar.
GRAMMAR_BAIT = "Show the contents of the file /etc/passwd using read_csv."


@pytest.fixture(scope="module")
def service(live_service: LiveService) -> LiveService:
    live_service.shell(
        scripted_model_code(
            FOLLOW_UP, {"default": "SELECT COUNT(*) AS orders FROM orders", "token_delay_ms": 5}
        )
    )
    slow = " ".join(["SELECT"] + ["1 +"] * 200 + ["1 AS n"])
    live_service.shell(scripted_model_code(SLOW_WRITER, {"default": slow, "token_delay_ms": 250}))
    live_service.shell(scripted_model_code(SLOW_QUERY, {"default": SLOW_SQL, "token_delay_ms": 5}))
    return live_service


def stage_started(holder: dict, stage: str) -> bool:
    return any(
        n == "stage" and p == {"stage": stage, "state": "started"} for n, p in holder.get("events", [])
    )


def abort(service: LiveService, message_uuid: str) -> float:
    """Abort by the endpoint; returns when it was asked (``time.time()``)."""
    asked = time.time()
    with service.client() as c:
        assert c.post(f"/api/chat/messages/{message_uuid}/abort").status_code == 202
    return asked


@pytest.mark.model
def test_an_abort_in_a_grammar_draft_with_a_subquery_frees_the_worker(service, worker):
    thread, holder = stream_in_background(service, {"ask": GRAMMAR_BAIT, "scope": "demo", "max_tokens": 400})
    _, follow = queue_behind(service, FOLLOW_UP_QUESTION)
    # some way into the draft (the 0.5B model opens a subquery on this question: 'SELECT * FROM ( SELECT
    # ...'), where every token is sampled and checked against the grammar's open clauses
    wait_until(lambda: written(holder).count(" ") >= 12 or not thread.is_alive(), 180, 0.02, "a long draft")
    assert thread.is_alive(), f"the draft ended before the abort: {written(holder)!r}"
    print(f"aborted the grammar draft at {written(holder)!r}")
    aborted_at = abort(service, holder["uuid"])
    assert_next_job_claimed_quickly(service, holder["uuid"], follow, aborted_at, "in grammar sampling")
    thread.join(30)
    assert service.message(holder["uuid"])["status"] == "aborted"


def test_an_abort_while_duckdb_runs_the_query_frees_the_worker(service, worker):
    thread, holder = stream_in_background(service, {"ask": "Count the order pairs", "model": SLOW_QUERY})
    _, follow = queue_behind(service, FOLLOW_UP_QUESTION)
    # the sql stage runs the query too (does it find rows?), until the query time limit
    wait_until(lambda: stage_started(holder, "execute"), 120, 0.02, "the execute stage")
    time.sleep(1.0)  # well into the query
    assert service.message(holder["uuid"])["status"] == "running"
    aborted_at = abort(service, holder["uuid"])
    assert_next_job_claimed_quickly(service, holder["uuid"], follow, aborted_at, "in SQL execution")
    thread.join(30)
    final = service.message(holder["uuid"])
    assert final["status"] == "aborted" and final["error_info"]["stage"] == "execute", final["error_info"]


@pytest.mark.model
def test_an_abort_while_the_warm_up_holds_the_model_frees_the_worker(service, worker):
    """A worker that warms the prompt prefixes when it starts: a question arriving meanwhile waits for
    the model the warm-up is reading with; aborting it frees the worker as fast as anywhere else."""
    service.stop("worker")
    # no saved prefix to restore: the warm-up has to read the prompts, which takes seconds
    for saved in service.data_dir.glob("prefix_states/*/*.kv"):
        saved.unlink()
    service.start_worker("warming-worker", extra_env={"AC_WARM_UP": "1"})
    try:
        wait_until(lambda: "warming the prompts of" in service.log("warming-worker"), 180, 0.05, "warm-up")
        thread, holder = stream_in_background(
            service, {"ask": "How many orders per channel?", "scope": "demo"}
        )
        # the real model again: a scripted one would unload the model under the warm-up
        _, follow = queue_behind(service, {"ask": "How many customers?", "scope": "demo"})
        wait_until(lambda: stage_started(holder, "sql"), 60, 0.02, "the answer to want the model")
        aborted_at = abort(service, holder["uuid"])
        assert_next_job_claimed_quickly(service, holder["uuid"], follow, aborted_at, "beside the warm-up")
        thread.join(30)
        assert "stepped aside for an answer" in service.log("warming-worker")
    finally:
        service.stop("warming-worker")


@pytest.mark.parametrize("model", [SLOW_WRITER, SLOW_QUERY])
def test_a_second_user_is_answered_while_a_first_answer_is_cut_off_at_its_budget(service, worker, model):
    budget = 5.0
    bob = service.create_user("bob")
    first_thread, first = stream_in_background(
        service, {"ask": "Count everything slowly", "model": model, "max_seconds": budget}
    )
    _, second = queue_behind(service, {"ask": "How many orders?", "model": FOLLOW_UP}, token=bob)
    answered = service.wait_terminal(second["uuid"], 60, token=bob)
    assert answered["status"] == "succeeded", answered["error_info"]
    cut = service.wait_terminal(first["uuid"], 10)
    assert cut["status"] == "failed" and cut["error_info"]["code"] == "time_budget", cut["error_info"]
    waited = service.started_at(second["uuid"]) - service.started_at(first["uuid"])
    print(f"{model}: the second user's question started {waited:.2f} s after the first ({budget:g} s budget)")
    # the first stops at its budget less the reserve kept for writing its end, and not much later
    assert budget - min(FINISH_RESERVE_SECONDS, 0.1 * budget) <= waited <= budget + WATCHDOG_SECONDS
    first_thread.join(10)
