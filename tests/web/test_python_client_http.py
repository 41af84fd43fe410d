"""The Python client over real HTTP: against the stub API and (live) the real service."""

from __future__ import annotations

from analytics_chat_client import Client

from tests.web.support import ChatSite

TIMEOUT_S = 300


def test_session_follows_up_in_one_thread(chat_site: ChatSite, page_settings):
    with Client(chat_site.base_url, chat_site.token, timeout=TIMEOUT_S) as client:
        assert any(source["name"] for source in client.sources())
        session = client.chat(scope="demo")
        first = session.send(chat_site.chart_question)
        assert first.status == "succeeded", first.error_info
        second = session.send(chat_site.follow_up)
        assert second.parent_uuid == first.response_uuid and not second.is_new
        assert [m.response_uuid for m in client.thread(second.response_uuid)] == [
            first.response_uuid,
            second.response_uuid,
        ]
        assert "{" not in first.to_text()


def test_session_abort_stops_the_server(chat_site: ChatSite, page_settings):
    with (
        Client(chat_site.base_url, chat_site.token, timeout=TIMEOUT_S) as client,
        client.chat(scope="demo") as session,
    ):
        for event in session.stream(chat_site.long_question):
            if event.event == "stage":
                assert session.abort() is True
        answer = session.history[-1]
        assert answer.status == "aborted"
        assert client.message(answer.response_uuid).status == "aborted"
