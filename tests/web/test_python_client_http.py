"""The Python client over real HTTP: against the stub API and (live) the real service with scripted models."""

from __future__ import annotations

from analytics_chat_client import Client

from tests.web.support import ChatSite

TIMEOUT_S = 300


def test_session_follows_up_in_one_thread(chat_site: ChatSite, page_settings):
    with Client(chat_site.base_url, chat_site.token, timeout=TIMEOUT_S) as client:
        assert any(source["name"] for source in client.sources())
        session = client.chat(scope="demo", model=chat_site.model)
        first = session.send(chat_site.chart_question)
        assert first.status == "succeeded", first.error_info
        second = session.send(chat_site.follow_up)
        assert second.parent_uuid == first.response_uuid and not second.is_new
        assert [m.response_uuid for m in client.thread(second.response_uuid)] == [
            first.response_uuid,
            second.response_uuid,
        ]
        assert "{" not in first.to_text()
        if chat_site.kind == "live":  # the real composer answered with the data and a line chart
            assert first.data.columns == ["month", "revenue"] and len(first.data.rows) == 12
            assert second.data.rows and len(second.data.rows) < len(first.data.rows)


def test_session_abort_stops_the_server(chat_site: ChatSite, page_settings):
    with (
        Client(chat_site.base_url, chat_site.token, timeout=TIMEOUT_S) as client,
        client.chat(scope="demo", model=chat_site.slow_model) as session,
    ):
        for event in session.stream(chat_site.long_question):
            if event.event == "stage":
                assert session.abort() is True
        answer = session.history[-1]
        assert answer.status == "aborted"
        assert client.message(answer.response_uuid).status == "aborted"
