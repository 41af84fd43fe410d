"""The JS client and the React example (built with Vite) in a real headless Chromium against the live
service: answers render, and aborting through an AbortSignal stops the server's work."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.live import wait_until
from tests.web.support import REPO, ChatSite

pytestmark = [pytest.mark.live, pytest.mark.browser]

REACT_EXAMPLE = REPO / "frontend" / "react-example"
CLIENT_MODULE = "/static/client/analytics-chat.js"
ANSWER_TIMEOUT_MS = 60_000


def api(site: ChatSite) -> httpx.Client:
    return httpx.Client(base_url=site.base_url, headers={"Authorization": f"Token {site.token}"}, timeout=30)


def wait_for_status(site: ChatSite, response_uuid: str, timeout: float = 10) -> dict:
    """The message once it has ended (whatever the page or client believes)."""
    with api(site) as client:

        def ended():
            body = client.get(f"/api/chat/messages/{response_uuid}").raise_for_status().json()
            return body if body["status"] in ("succeeded", "failed", "aborted") else None

        return wait_until(ended, timeout, 0.1, f"message {response_uuid} to end")


def assert_worker_free(site: ChatSite) -> None:
    """The next answer comes at once: the aborted one no longer holds the (single) worker."""
    with api(site) as client:
        answer = client.post("/api/chat/generate", json={"ask": "How many orders?", "model": site.model})
    assert answer.json()["status"] == "succeeded", answer.text
    assert answer.elapsed.total_seconds() < 15


@pytest.fixture(scope="module")
def react_build(tmp_path_factory, live_site: ChatSite) -> Path:
    """The React example built with Vite for this server: token and model baked in as VITE_ variables,
    served under /react-example/ of the live origin (see `serve_build`)."""
    vite = REACT_EXAMPLE / "node_modules" / ".bin" / "vite"
    if not vite.exists():
        pytest.skip("the React example's packages are not installed: make frontend")
    out = tmp_path_factory.mktemp("react-example")
    env = {**os.environ, "VITE_AC_TOKEN": live_site.token, "VITE_AC_MODEL": live_site.model}
    subprocess.run(
        [str(vite), "build", "--outDir", str(out), "--emptyOutDir", "--base", "/react-example/", "--logLevel", "warn"],
        cwd=REACT_EXAMPLE, env=env, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    yield out
    shutil.rmtree(out, ignore_errors=True)


def serve_build(page, site: ChatSite, build: Path) -> str:
    """Answer /react-example/… of the live origin from the build, so the dashboard and the API share an
    origin (as behind the reverse proxy a deployment would use); returns the dashboard's URL."""
    prefix = f"{site.base_url}/react-example/"

    def fulfill(route):
        relative = urlparse(route.request.url).path.removeprefix("/react-example/") or "index.html"
        file = (build / relative).resolve()
        if file.is_relative_to(build.resolve()) and file.is_file():
            route.fulfill(path=str(file))
        else:
            route.fulfill(status=404, body="not in the build")

    page.route(lambda url: url.startswith(prefix), fulfill)
    return prefix


def test_react_example_dashboard_answers_from_the_live_service(page, live_site, worker, react_build):
    page.goto(serve_build(page, live_site, react_build))
    cards = page.locator("section.card")
    page.wait_for_function(
        "() => [...document.querySelectorAll('section.card')].every(c => c.dataset.phase === 'done')",
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert cards.count() == 2
    trend, top = cards.nth(0), cards.nth(1)
    # The trend card draws its chart (vega-embed from the bundle) at the width of the card.
    chart = trend.locator(".ac-chart svg").first
    chart.wait_for(timeout=15_000)
    assert chart.bounding_box()["width"] > 200
    assert trend.locator(".ac-chart svg .mark-line").count() > 0
    assert trend.locator(".ac-data tbody tr").count() == 12
    assert top.locator(".ac-data tbody tr").count() == 5
    assert page.js_errors == []


def test_js_client_stream_abort_signal_stops_the_server(page, live_site, worker):
    page.goto(f"{live_site.base_url}/accounts/login/")  # any page of the origin: the module is same-origin
    result = page.evaluate(
        """async ({ module, token, model }) => {
            const { createClient } = await import(module);
            const client = createClient({ token });
            const controller = new AbortController();
            const seen = [];
            let uuid = null;
            try {
                for await (const { event, data } of client.stream({ ask: "Count slowly please", model }, controller.signal)) {
                    seen.push(event);
                    if (event === "start") uuid = data.response_uuid;
                    if (event === "delta") controller.abort();  // the model is writing: stop it
                }
                return { uuid, seen, error: null };
            } catch (error) {
                return { uuid, seen, error: error.name };
            }
        }""",
        {"module": CLIENT_MODULE, "token": live_site.token, "model": live_site.slow_model},
    )
    assert result["error"] == "AbortError", result
    assert result["seen"][0] == "start" and result["seen"][-1] == "delta"
    assert "done" not in result["seen"]
    assert wait_for_status(live_site, result["uuid"])["status"] == "aborted"
    assert_worker_free(live_site)


def test_js_client_generate_abort_signal_stops_the_server(page, live_site, worker):
    ask = f"Count slowly please ({uuid.uuid4().hex[:8]})"  # unique: found again in the thread list
    page.goto(f"{live_site.base_url}/accounts/login/")
    outcome = page.evaluate(
        """async ({ module, token, model, ask }) => {
            const { createClient } = await import(module);
            const client = createClient({ token });
            const controller = new AbortController();
            setTimeout(() => controller.abort(), 3000);  // well into the slow model's writing
            try {
                await client.generate({ ask, model }, controller.signal);
                return "finished";
            } catch (error) {
                return error.name;
            }
        }""",
        {"module": CLIENT_MODULE, "token": live_site.token, "model": live_site.slow_model, "ask": ask},
    )
    assert outcome == "AbortError"
    with api(live_site) as client:
        threads = client.get("/api/chat/threads").raise_for_status().json()["results"]
    response_uuid = next(t["last_uuid"] for t in threads if t["title"].startswith(ask[:40]))
    assert wait_for_status(live_site, response_uuid)["status"] == "aborted"
    assert_worker_free(live_site)
