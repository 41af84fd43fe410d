"""The Python client against an httpx MockTransport that speaks the API contract."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from analytics_chat_client import AsyncClient, ChatAPIError, ChatResponse, Client

from tests.web.fake_chat_api import AsyncFakeChatAPI, FakeChatAPI

BASE = "http://chat.test"


@pytest.fixture
def api() -> FakeChatAPI:
    return FakeChatAPI()


@pytest.fixture
def client(api: FakeChatAPI):
    with Client(BASE, "secret-token", transport=httpx.MockTransport(api)) as client:
        yield client


def test_send_streams_records_history_and_follows_up(client, api):
    session = client.chat(scope="demo", model="qwen", temperature=0.1)
    first = session.send("Revenue by region")
    assert first.ok and first.is_new
    assert api.bodies[0] == {
        "scope": "demo",
        "model": "qwen",
        "temperature": 0.1,
        "ask": "Revenue by region",
        "streaming": True,
    }
    second = session.send("Only the north")
    assert api.bodies[1]["parent_uuid"] == first.response_uuid
    assert second.parent_uuid == first.response_uuid and not second.is_new
    assert [r.ask for r in session.history] == ["Revenue by region", "Only the north"]
    session.clear()
    session.send("Something new")
    assert "parent_uuid" not in api.bodies[2]


def test_stream_yields_events_in_contract_order(client):
    events = list(client.chat().stream("Revenue by region"))
    names = [e.event for e in events]
    assert names[0] == "start" and names[-1] == "done"
    assert (
        "".join(e.data["text"] for e in events if e.event == "delta")
        == "SELECT region, SUM(amount) FROM orders"
    )
    assert names.count("stage") == 2


def test_generate_is_blocking_and_errors_name_the_field(client, api):
    answer = client.generate("Revenue by region", scope="demo")
    assert answer.status == "succeeded" and api.bodies[-1]["streaming"] is False
    with pytest.raises(ValueError, match="ask must be a non-empty string"):
        client.generate("  ")
    with pytest.raises(TypeError, match="temprature"):
        client.chat(temprature=0.5)
    # A 4xx from the server carries its field message.
    api_error = Client(BASE, "wrong", transport=httpx.MockTransport(api))
    with pytest.raises(ChatAPIError, match="401: Invalid token"):
        api_error.sources()


def test_abort_posts_to_the_server_and_records_the_aborted_answer():
    api = FakeChatAPI(slow=True)
    with Client(BASE, "secret-token", transport=httpx.MockTransport(api)) as client, client.chat() as session:
        deltas = 0
        for event in session.stream("A long question"):
            if event.event == "delta":
                deltas += 1
                if deltas == 3:
                    assert session.abort() is True
        assert api.abort_seen.is_set()
        last = session.history[-1]
        assert last.status == "aborted" and not last.ok
        assert deltas < 50, "the stream stopped soon after the abort"
    assert session.abort() is False  # nothing running any more


def test_to_text_fills_placeholders_for_a_terminal(client, tmp_path):
    text = client.chat().send("Revenue by region").to_text(chart_dir=tmp_path)
    lines = text.splitlines()
    assert lines[0] == "East leads with 143.25."
    assert any(line.split() == ["region", "revenue"] for line in lines)
    assert any(line.split() == ["east", "143.25"] for line in lines)
    assert "(3 rows)" in text
    assert "    SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region" in lines
    chart = next(tmp_path.glob("chart-*.png"))
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"[chart saved to {chart}]" in text
    assert "{" not in text


def test_save_and_load_round_trip(client, api, tmp_path):
    session = client.chat(scope="demo.orders", tags=["q3"])
    answer = session.send("Revenue by region")
    path = session.save(tmp_path / "session.json")
    assert "secret-token" not in path.read_text()

    restored = Client.load_session(path, token="secret-token", transport=httpx.MockTransport(api))
    with restored:
        assert [r.response_uuid for r in restored.history] == [answer.response_uuid]
        restored.send("And last year?")
        assert api.bodies[-1]["parent_uuid"] == answer.response_uuid
        assert api.bodies[-1]["scope"] == "demo.orders" and api.bodies[-1]["tags"] == ["q3"]

    other = client.chat().load(path)
    assert other.parent_uuid == answer.response_uuid
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not a session file"):
        client.chat().load(tmp_path / "bad.json")


def test_response_from_dict_rejects_other_json():
    with pytest.raises(ValueError, match="no response_uuid"):
        ChatResponse.from_dict({"detail": "x"})
    response = ChatResponse.from_dict(
        {"response_uuid": "u", "response": "{sql}", "response_data": {"sql": "SELECT 1"}}
    )
    assert response.placeholders == ["sql"] and response.to_text() == "SELECT 1"


def test_async_client_session():
    api = AsyncFakeChatAPI()

    async def run() -> list:
        async with AsyncClient(BASE, "secret-token", transport=httpx.MockTransport(api.handle)) as client:
            session = client.chat(scope="demo")
            first = await session.send("Revenue by region")
            events = [e.event async for e in session.stream("Only the north")]
            return [first, events, session.history]

    first, events, history = asyncio.run(run())
    assert first.ok and events[0] == "start" and events[-1] == "done"
    assert history[1].parent_uuid == first.response_uuid
    assert json.loads(api.requests[1].content)["parent_uuid"] == first.response_uuid


def test_sync_session_send_async(client):
    session = client.chat()
    answer = asyncio.run(session.send_async("Revenue by region"))
    assert answer.ok and session.history == [answer]
