"""A bounded load test on loopback: 40 concurrent generate calls on real workers and Redis (scripted model),
20 of them aborted at random moments, by endpoint or by dropping the connection.

Checks: every message ends terminal, none is lost or run twice, no DuckDB file handle or thread is left
behind in the workers, and the queueing delay (started_at - created_at) is printed as a small table.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_REDIS_URL
from tests.live import LiveService, parse_sse, wait_until

pytestmark = [pytest.mark.live]

LOAD = "scripted-load"
# about 30 words at 40 ms: an answer takes a bit over a second, so aborts land in every stage
LOAD_SCRIPT = {
    "default": "SELECT channel, COUNT(*) AS orders FROM orders WHERE "
    + " AND ".join(["1 = 1"] * 8)
    + " GROUP BY channel",
    "token_delay_ms": 40,
}
CALLS = 40
ABORTS = 20
WARM_UP = 8
TERMINAL = {"succeeded", "failed", "aborted"}
TASK_RECEIVED = re.compile(r"Task analytics_chat\.answer_message\[([0-9a-f-]+)\] received")


@pytest.fixture(scope="module")
def service():
    from tests.security.test_faults import scripted_model_code, scripted_service

    with scripted_service(TEST_REDIS_URL) as live:
        live.shell(scripted_model_code(LOAD, LOAD_SCRIPT))
        live.start_worker("load-worker", concurrency=4)
        yield live


def worker_pids(process) -> list[int]:
    """The Celery main process and its pool processes."""
    pids = [process.pid]
    for task in Path(f"/proc/{process.pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids.extend(int(pid) for pid in children)
    return pids


def resources(pids: list[int]) -> dict[str, int]:
    """Open file descriptors, DuckDB files among them, and threads, summed over the processes."""
    fds = duckdb_files = threads = 0
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            fds += 1
            try:
                duckdb_files += ".duckdb" in str(fd.readlink())
            except OSError:
                pass  # closed between listing and reading
        threads += len(list(Path(f"/proc/{pid}/task").iterdir()))
    return {"fds": fds, "duckdb_files": duckdb_files, "threads": threads}


def messages(service: LiveService) -> list[dict]:
    code = (
        "import json; from analytics_chat.models import ChatMessage as M;"
        "print(json.dumps([dict(uuid=str(m.uuid), ask=m.ask, status=m.status, worker=m.worker,"
        " created=m.created_at.timestamp(), started=m.started_at and m.started_at.timestamp(),"
        " finished=m.finished_at and m.finished_at.timestamp()) for m in M.objects.all()]))"
    )
    return json.loads(service.shell(code).strip().splitlines()[-1])


def call(service: LiveService, index: int, plan: str, delay: float, out: dict) -> None:
    """One generate call; ``plan`` is 'wait', 'abort' (endpoint after ``delay``) or 'drop' (hang up)."""
    body = {"ask": f"Orders by channel, load call {index}", "model": LOAD, "streaming": index % 2 == 0}
    client = httpx.Client(
        base_url=service.base_url, headers={"Authorization": f"Token {service.token}"}, timeout=120
    )
    with client as c, c.stream("POST", "/api/chat/generate", json=body) as response:
        out["status_code"] = response.status_code
        uuid = out["uuid"] = response.headers.get("X-Response-UUID")
        if plan == "abort":
            time.sleep(delay)
            with service.client() as other:
                out["abort"] = other.post(f"/api/chat/messages/{uuid}/abort").status_code
        elif plan == "drop":
            time.sleep(delay)
            return  # leaving the block closes the connection mid-answer
        text = response.read().decode()
        out["final"] = (
            list(parse_sse(iter(text.splitlines())))[-1][1] if body["streaming"] else json.loads(text)
        )


def test_forty_concurrent_calls_with_twenty_aborts(service):
    load_worker = service.processes["load-worker"]
    # warm up every pool process (model script, Django, DuckDB) before taking the baseline
    warm = [threading.Thread(target=call, args=(service, -i, "wait", 0, {})) for i in range(1, WARM_UP + 1)]
    for t in warm:
        t.start()
    for t in warm:
        t.join(60)
    time.sleep(1)
    pids = worker_pids(load_worker)
    before = resources(pids)
    rows_before = {m["uuid"] for m in messages(service)}

    rng = random.Random(7)
    plans = ["abort"] * (ABORTS // 2) + ["drop"] * (ABORTS // 2) + ["wait"] * (CALLS - ABORTS)
    rng.shuffle(plans)
    results = [{} for _ in range(CALLS)]
    threads = [
        threading.Thread(target=call, args=(service, i, plans[i], rng.uniform(0.0, 4.0), results[i]))
        for i in range(CALLS)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client hung"

    uuids = [r.get("uuid") for r in results]
    assert all(r.get("status_code") == 200 for r in results), [r.get("status_code") for r in results]
    assert len(set(uuids)) == CALLS and None not in uuids

    def all_terminal():
        rows = [m for m in messages(service) if m["uuid"] not in rows_before]
        return rows if all(m["status"] in TERMINAL for m in rows) else None

    rows = wait_until(all_terminal, 60, 0.5, "every message to end")
    took = time.monotonic() - started
    # none lost, none extra: exactly the 40 messages the calls created, each terminal
    assert sorted(m["uuid"] for m in rows) == sorted(uuids)
    by_uuid = {m["uuid"]: m for m in rows}
    for plan, result in zip(plans, results, strict=True):
        final = by_uuid[result["uuid"]]["status"]
        if plan == "wait":
            assert final == "succeeded", (plan, by_uuid[result["uuid"]])
            assert result["final"]["status"] == "succeeded"  # the waiting client got the answer
        else:
            assert final in TERMINAL, (plan, final)
    statuses = Counter(m["status"] for m in rows)

    # none ran twice: every task was received once, by one worker, and claimed at most once
    received = Counter(TASK_RECEIVED.findall(service.log("worker") + service.log("load-worker")))
    assert received and max(received.values()) == 1, received.most_common(3)
    assert sum(received.values()) == CALLS + WARM_UP  # aborted-while-queued tasks are received, then dropped
    assert all(m["worker"] for m in rows if m["started"] is not None)

    # no leaks: once idle, the workers hold no DuckDB file and about what they held before
    time.sleep(2)
    after = wait_until(lambda: (r := resources(worker_pids(load_worker))) and r["duckdb_files"] == 0 and r, 10, 0.5,
                       "DuckDB files to close")  # fmt: skip
    assert after["fds"] <= before["fds"] + 8, (before, after)
    assert after["threads"] <= before["threads"] + 4, (before, after)
    assert worker_pids(load_worker) == pids, "a pool process was replaced (crashed?)"

    delays = sorted((m["started"] - m["created"]) * 1000 for m in rows if m["started"] is not None)
    p95 = delays[min(len(delays) - 1, round(0.95 * len(delays)) - 1)]
    print(f"\n{CALLS} calls ({ABORTS} aborted: half by endpoint, half by hang-up) in {took:.1f}s")
    print(f"statuses: {dict(statuses)}; workers: {dict(Counter(m['worker'] for m in rows if m['worker']))}")
    print(f"resources of load-worker before/after: {before} / {after}")
    print("queueing delay (started_at - created_at), ms")
    print(f"  {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"  {len(delays):>4} {statistics.median(delays):>8.0f} {p95:>8.0f} {delays[-1]:>8.0f}")
    print(f"  never started (aborted while queued): {CALLS - len(delays)}")
    assert statuses["succeeded"] >= CALLS - ABORTS
