"""End to end on real processes: uvicorn, a Celery worker, PostgreSQL and Redis.

The scripted stand-in model keeps the plumbing tests fast and deterministic; the abort tests run the
real 0.5B model, because stopping llama.cpp mid-prompt and mid-generation is the point.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.live import (
    LiveService,
    assert_next_job_claimed_quickly,
    queue_behind,
    scripted_model_code,
    stream_in_background,
    stream_until,
    wait_until,
)

pytestmark = [pytest.mark.live]

SCRIPTED = "scripted-plumbing"
SCRIPT = {
    "rules": [
        {"match": r"(?i)question: how many orders", "response": "SELECT COUNT(*) AS orders FROM orders"},
        {
            "match": r"(?i)question: .*by channel",
            "response": "SELECT channel, COUNT(*) AS orders FROM orders GROUP BY channel",
        },
        {"match": r"(?i)question: .*slowly", "response": " ".join(["SELECT"] + ["1 +"] * 200 + ["1 AS n"])},
    ],
    "default": "SELECT COUNT(*) AS customers FROM customers",
    "token_delay_ms": 5,
}
SLOW = "scripted-slow"


@pytest.fixture(scope="module")
def service(live_service: LiveService) -> LiveService:
    live_service.shell(scripted_model_code(SCRIPTED, SCRIPT))
    live_service.shell(scripted_model_code(SLOW, {**SCRIPT, "token_delay_ms": 250}))
    return live_service


def ask(service: LiveService, **body) -> dict:
    response = service.generate(**body)
    assert response.status_code == 200, response.text
    return response.json()


def test_thread_tree_several_levels_deep(service, worker):
    first = ask(service, ask="How many orders are there?", model=SCRIPTED)
    assert first["status"] == "succeeded", first["error_info"]
    assert first["is_new"] is True
    assert first["response_data"]["data"]["rows"][0][0] > 0
    assert "{data}" in first["response"]

    parent = first
    for depth in range(1, 5):
        reply = ask(
            service,
            ask=f"And by channel, level {depth}?",
            model=SCRIPTED,
            parent_uuid=parent["response_uuid"],
        )
        assert reply["status"] == "succeeded", reply["error_info"]
        assert reply["parent_uuid"] == parent["response_uuid"]
        assert reply["is_new"] is False  # the thread's history was used
        parent = reply

    thread = service.client().get(f"/api/chat/messages/{parent['response_uuid']}/thread").json()["messages"]
    assert next(m["response_uuid"] for m in thread) == first["response_uuid"]
    assert len(thread) == 5

    fresh = ask(
        service, ask="And by channel?", model=SCRIPTED, parent_uuid=parent["response_uuid"], recall=False
    )
    assert fresh["is_new"] is True  # recall off: history ignored


def test_streaming_event_order(service, worker):
    events = list(service.stream(ask="Show the orders by channel", model=SCRIPTED))
    names = [name for name, _ in events]
    assert names[0] == "start" and events[0][1]["response_uuid"]
    assert names[-1] == "done"
    assert names.count("done") == 1 and "error" not in names
    uuid = events[0][1]["response_uuid"]
    final = events[-1][1]
    assert final["response_uuid"] == uuid and final["status"] == "succeeded"
    assert final["response_data"]["sql"] and final["response_data"]["data"]["columns"] == [
        "channel",
        "orders",
    ]

    stages = [(p["stage"], p["state"]) for name, p in events if name == "stage"]
    order = ["route", "context", "sql", "execute", "chart", "compose"]
    assert stages == [(s, state) for s in order for state in ("started", "finished")]
    # text deltas arrive while the sql stage runs, before it finishes
    sql_started = events.index(("stage", {"stage": "sql", "state": "started"}))
    sql_finished = next(
        i
        for i, (n, p) in enumerate(events)
        if n == "stage" and p["stage"] == "sql" and p["state"] == "finished"
    )
    assert sql_started < names.index("delta") < sql_finished
    assert service.message(uuid)["status"] == "succeeded"


def test_save_false_keeps_the_turn_out_of_threads(service, worker):
    before = service.client().get("/api/chat/threads").json()["count"]
    answer = ask(service, ask="How many orders?", model=SCRIPTED, save=False)
    assert answer["status"] == "succeeded"
    assert service.client().get("/api/chat/threads").json()["count"] == before


def test_ownership_other_users_get_404(service, worker):
    mine = ask(service, ask="How many orders?", model=SCRIPTED)
    other = service.create_user("eve")
    with service.client(other) as c:
        assert c.get(f"/api/chat/messages/{mine['response_uuid']}").status_code == 404
        assert c.post(f"/api/chat/messages/{mine['response_uuid']}/abort").status_code == 404
        response = c.post("/api/chat/generate", json={"ask": "follow", "parent_uuid": mine["response_uuid"]})
        assert response.status_code == 404
        assert c.get("/api/chat/threads").json()["count"] == 0


@pytest.mark.model
def test_abort_by_endpoint_while_the_real_model_writes(service, worker):
    body = {
        "ask": "List every customer name with their city and country and total order count",
        "max_tokens": 400,
        "scope": "demo",
    }
    # at the first text the model writes, hang up and abort from another connection
    thread, holder = stream_in_background(service, body, lambda name, p: name == "delta")
    _, follow = queue_behind(service, {"ask": "How many orders?", "model": SCRIPTED})
    thread.join(120)
    uuid = holder["uuid"]
    with service.client() as c:
        assert c.post(f"/api/chat/messages/{uuid}/abort").status_code == 202
    final = wait_until(lambda: (m := service.message(uuid))["status"] != "running" and m, 5, 0.05, "abort")
    assert final["status"] == "aborted"
    # the worker itself stopped llama.cpp: its own last write (the stage timings and the partial output)
    # comes before it takes the next job, which the claim below bounds (HTTP polls here would time the
    # web server as much as the worker)
    stopped = wait_until(
        lambda: "sql" in (m := service.message(uuid))["stage_timings"] and m, 5, 0.02, "worker stop"
    )
    assert stopped["finish_reason"] == "aborted"
    assert stopped["usage"]["prompt_tokens"] > 0
    assert_next_job_claimed_quickly(service, uuid, follow, holder["dropped_wall"], "during decode")
    assert service.message(uuid)["status"] == "aborted"  # a late write never overwrites it


@pytest.mark.model
def test_abort_by_disconnect_while_the_real_model_reads_the_prompt(service, worker):
    # a new scope means a new, uncached system prompt: the model is still reading when we hang up
    body = {
        "ask": "How many customers signed up per year?",
        "scope": "demo.customers,demo.orders",
        "max_tokens": 300,
    }
    follow_queued = threading.Event()
    thread, holder = stream_in_background(
        service, body, lambda name, p: name == "stage" and p["stage"] == "sql" and follow_queued.wait(30)
    )
    _, follow = queue_behind(service, {"ask": "How many orders?", "model": SCRIPTED})
    follow_queued.set()
    thread.join(120)
    uuid = holder["uuid"]
    final = wait_until(lambda: (m := service.message(uuid))["status"] in ("aborted", "failed", "succeeded") and m,
                       5, 0.05, "disconnect to abort")  # fmt: skip
    assert final["status"] == "aborted"
    assert time.monotonic() - holder["dropped_at"] < 2.0
    assert_next_job_claimed_quickly(service, uuid, follow, holder["dropped_wall"], "during the prompt read")


def test_abort_of_a_queued_message_drops_it(service, worker):
    holder: dict = {}
    thread = threading.Thread(
        target=stream_until,
        args=(service, {"ask": "Count slowly please", "model": SLOW}, lambda n, p: n == "done", holder),
    )
    thread.start()
    wait_until(lambda: "uuid" in holder, 30, 0.05, "the slow answer to start")
    # a second request waits in the queue behind the slow one; abort it before a worker takes it
    with service.client() as c:
        second = {}
        t2 = threading.Thread(target=stream_until, args=(service, {"ask": "How many orders?", "model": SCRIPTED},
                                                         lambda n, p: n in ("done", "error"), second))  # fmt: skip
        t2.start()
        wait_until(lambda: "uuid" in second, 30, 0.05, "the queued request")
        assert service.message(second["uuid"])["status"] == "pending"
        assert c.post(f"/api/chat/messages/{second['uuid']}/abort").status_code == 202
        t2.join(10)
        assert second["events"][-1][0] == "error"
        assert second["events"][-1][1]["status"] == "aborted"
        assert c.post(f"/api/chat/messages/{holder['uuid']}/abort").status_code == 202
    thread.join(30)
    assert service.message(second["uuid"])["status"] == "aborted"
    assert service.message(second["uuid"])["current_stage"] == ""  # no worker ever ran it


def test_worker_killed_mid_answer_ends_failed_and_retry_works(service, worker):
    holder: dict = {}
    thread = threading.Thread(
        target=stream_until,
        args=(
            service,
            {"ask": "Count slowly please", "model": SLOW},
            lambda n, p: n in ("done", "error"),
            holder,
        ),
    )
    thread.start()
    wait_until(
        lambda: any(n == "delta" for n, _ in holder.get("events", [])), 60, 0.05, "the answer to be written"
    )
    killed_at = time.monotonic()
    service.stop("worker", sig=signal.SIGKILL)
    thread.join(60)  # the waiting client is told, without anyone polling
    assert holder["events"][-1][0] == "error"
    final = holder["events"][-1][1]
    assert final["status"] == "failed" and final["error_info"]["code"] == "worker_lost"
    assert time.monotonic() - killed_at < 30
    service.start_worker()
    retry = ask(service, ask="How many orders?", model=SCRIPTED)
    assert retry["status"] == "succeeded"


def test_chart_and_csv_downloads(service, worker):
    answer = ask(service, ask="Plot the orders by channel", model=SCRIPTED)
    assert answer["status"] == "succeeded", answer["error_info"]
    assert "{chart_spec}" in answer["response"]
    spec = answer["response_data"]["chart_spec"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    uuid = answer["response_uuid"]
    with service.client() as c:
        svg = c.get(f"/api/chat/messages/{uuid}/chart.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in svg.text and "mark-rect" in svg.text  # bars were drawn
        png = c.get(f"/api/chat/messages/{uuid}/chart.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        csv = c.get(f"/api/chat/messages/{uuid}/data.csv")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        assert lines[0] == "channel,orders" and len(lines) == 4  # web, store, mobile
        total = sum(int(line.split(",")[1]) for line in lines[1:])
        plain = ask(service, ask="How many orders are there?", model=SCRIPTED)
        assert total == plain["response_data"]["data"]["rows"][0][0]
        no_chart = c.get(f"/api/chat/messages/{plain['response_uuid']}/chart.svg")
        assert no_chart.status_code == 404
