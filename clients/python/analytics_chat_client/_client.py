"""HTTP clients (sync and async) and chat sessions for the Analytics Chat REST API."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from ._response import ChatResponse
from ._sse import ChatEvent, aiter_events, iter_events

# ChatRequest fields besides `ask` and `parent_uuid`; anything else is a caller's typo.
REQUEST_FIELDS = frozenset(
    {
        "scope", "tags", "model", "temperature", "top_k", "top_p", "min_p", "repeat_penalty",
        "frequency_penalty", "presence_penalty", "seed", "max_tokens", "stop", "save", "recall",
        "max_seconds",
    }
)  # fmt: skip
SESSION_FILE_VERSION = 1


class ChatAPIError(Exception):
    """The service answered with an error status (or a stream ended without its final event)."""

    def __init__(self, status_code: int, body: Any, url: str = "") -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(f"{url or 'Analytics Chat API'} answered {status_code}: {_describe(body)}")


def _describe(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str):
            return body["detail"]
        if isinstance(body.get("error_info"), dict):  # a ChatResponse that failed up front (503)
            return str(body["error_info"].get("message"))
        return "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items()
        )
    return str(body)[:300]


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        raise ChatAPIError(response.status_code, body, str(response.request.url))
    return response


def _request_body(
    ask: str, parent_uuid: str | None, params: dict[str, Any], streaming: bool
) -> dict[str, Any]:
    if not isinstance(ask, str) or not ask.strip():
        raise ValueError("ask must be a non-empty string")
    unknown = set(params) - REQUEST_FIELDS
    if unknown:
        raise TypeError(f"unknown ChatRequest field(s): {', '.join(sorted(unknown))}")
    body = {k: v for k, v in params.items() if v is not None}
    body.update(ask=ask, streaming=streaming)
    if parent_uuid:
        body["parent_uuid"] = parent_uuid
    return body


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "analytics-chat-client/0.1"}
    if token:
        headers["Authorization"] = f"Token {token}"
    return headers


def _timeout(seconds: float) -> httpx.Timeout:
    # Answers from a small CPU model take a while; connecting should not.
    return httpx.Timeout(seconds, connect=10.0)


class _SessionState:
    """What a session remembers: request defaults, the thread position and the answers so far."""

    def __init__(self, params: dict[str, Any], parent_uuid: str | None = None) -> None:
        _request_body("-", None, params, False)  # validate field names early
        self.params = params
        self.parent_uuid = parent_uuid
        self.history: list[ChatResponse] = []
        self.running_uuid: str | None = None

    def body(self, ask: str, overrides: dict[str, Any]) -> dict[str, Any]:
        return _request_body(ask, self.parent_uuid, {**self.params, **overrides}, streaming=True)

    def record(self, response: ChatResponse) -> None:
        self.history.append(response)
        # The next ask follows up on this one, so the thread stays a single line.
        self.parent_uuid = response.response_uuid

    def clear(self) -> None:
        self.history.clear()
        self.parent_uuid = None

    def dump(self, base_url: str) -> dict[str, Any]:
        return {
            "version": SESSION_FILE_VERSION,
            "base_url": base_url,
            "params": self.params,
            "parent_uuid": self.parent_uuid,
            "history": [r.raw for r in self.history],
        }

    def restore(self, document: dict[str, Any]) -> None:
        if document.get("version") != SESSION_FILE_VERSION:
            raise ValueError(f"unsupported session file version {document.get('version')!r}")
        _request_body("-", None, document.get("params") or {}, False)
        self.params = dict(document.get("params") or {})
        self.parent_uuid = document.get("parent_uuid")
        self.history = [ChatResponse.from_dict(raw) for raw in document.get("history") or []]


def _read_session_file(path: str | Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a session file (bad JSON: {exc})") from exc


# --- sync -------------------------------------------------------------------------------------


class Client:
    """A connection to one Analytics Chat server. `token` is a DRF token (Authorization: Token …)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.base_url, headers=_headers(token), timeout=_timeout(timeout), transport=transport
        )

    # sessions
    def chat(self, scope: str | None = None, model: str | None = None, **params: Any) -> ChatSession:
        """A conversation: each `send` follows up on the previous answer. `params` are ChatRequest
        options (tags, temperature, top_k, seed, max_tokens, save, recall, …)."""
        return ChatSession(self, {"scope": scope, "model": model, **params})

    @classmethod
    def load_session(
        cls, path: str | Path, token: str | None = None, base_url: str | None = None, **kwargs: Any
    ) -> ChatSession:
        """Reopen a saved session (on the server it was saved from unless `base_url` says otherwise).
        The session owns this new client and closes it when closed."""
        document = _read_session_file(path)
        client = cls(base_url or document["base_url"], token, **kwargs)
        session = ChatSession(client, {}, owns_client=True)
        session._state.restore(document)
        return session

    # one-off calls
    def generate(self, ask: str, parent_uuid: str | None = None, **params: Any) -> ChatResponse:
        """One blocking answer (streaming off)."""
        body = _request_body(ask, parent_uuid, params, streaming=False)
        return ChatResponse.from_dict(_check(self._http.post("/api/chat/generate", json=body)).json())

    def stream(self, ask: str, parent_uuid: str | None = None, **params: Any) -> Iterator[ChatEvent]:
        body = _request_body(ask, parent_uuid, params, streaming=True)
        yield from self._stream(body)

    def _stream(self, body: dict[str, Any]) -> Iterator[ChatEvent]:
        headers = {"Accept": "text/event-stream, application/json"}  # errors (4xx) come as JSON
        with self._http.stream("POST", "/api/chat/generate", json=body, headers=headers) as response:
            if response.is_error:
                response.read()
                _check(response)
            for event in iter_events(response.iter_lines()):
                yield event
                if event.is_final:
                    return
        raise ChatAPIError(0, "the event stream ended before a done or error event")

    def abort(self, response_uuid: str) -> dict[str, Any]:
        return _check(self._http.post(f"/api/chat/messages/{response_uuid}/abort")).json()

    def message(self, response_uuid: str) -> ChatResponse:
        return ChatResponse.from_dict(_check(self._http.get(f"/api/chat/messages/{response_uuid}")).json())

    def thread(self, response_uuid: str) -> list[ChatResponse]:
        body = _check(self._http.get(f"/api/chat/messages/{response_uuid}/thread")).json()
        return [ChatResponse.from_dict(m) for m in body["messages"]]

    def threads(self, page: int = 1) -> dict[str, Any]:
        return _check(self._http.get("/api/chat/threads", params={"page": page})).json()

    def delete_thread(self, root_uuid: str) -> None:
        _check(self._http.delete(f"/api/chat/threads/{root_uuid}"))

    def export_thread(self, root_uuid: str) -> dict[str, Any]:
        return _check(self._http.get(f"/api/chat/threads/{root_uuid}/export")).json()

    def import_thread(self, document: dict[str, Any]) -> str:
        return _check(self._http.post("/api/chat/threads/import", json=document)).json()["root_uuid"]

    def feedback(self, response_uuid: str, liked: bool) -> ChatResponse:
        url = f"/api/chat/messages/{response_uuid}/feedback"
        return ChatResponse.from_dict(_check(self._http.post(url, json={"liked": liked})).json())

    def download(self, response_uuid: str, name: str) -> bytes:
        """name: chart.svg, chart.png or data.csv."""
        if name not in {"chart.svg", "chart.png", "data.csv"}:
            raise ValueError(f"download name must be chart.svg, chart.png or data.csv, not {name!r}")
        return _check(self._http.get(f"/api/chat/messages/{response_uuid}/{name}")).content

    def sources(self) -> list[dict[str, Any]]:
        return _check(self._http.get("/api/sources")).json()

    def models(self) -> list[dict[str, Any]]:
        return _check(self._http.get("/api/models")).json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChatSession:
    """A conversation on one client. Answers are streamed under the hood so that `abort()` (from
    another thread, say) knows which message to stop; after an abort the stream is read on to the
    server's final `error` event, so the history holds the answer as the server closed it."""

    def __init__(self, client: Client, params: dict[str, Any], *, owns_client: bool = False) -> None:
        self.client = client
        self._state = _SessionState({k: v for k, v in params.items() if v is not None})
        self._owns_client = owns_client
        self._stop = threading.Event()

    @property
    def history(self) -> list[ChatResponse]:
        return list(self._state.history)

    @property
    def parent_uuid(self) -> str | None:
        return self._state.parent_uuid

    def send(self, ask: str, **overrides: Any) -> ChatResponse:
        """Ask and wait for the answer (whatever its status: check `.ok`). HTTP errors raise ChatAPIError."""
        answered_before = len(self._state.history)
        for _event in self.stream(ask, **overrides):
            pass
        if len(self._state.history) == answered_before:
            raise ChatAPIError(0, "the server sent no answer")
        return self._state.history[-1]

    def stream(self, ask: str, **overrides: Any) -> Iterator[ChatEvent]:
        """Yield start, stage, delta… and the final done/error event; the answer joins `history`."""
        body = self._state.body(ask, overrides)
        self._stop.clear()
        try:
            for event in self.client._stream(body):
                if event.event == "start":
                    self._state.running_uuid = event.data["response_uuid"]
                    if self._stop.is_set():  # abort() came before the server named the message
                        self.client.abort(self._state.running_uuid)
                if event.is_final:
                    self._state.record(ChatResponse.from_dict(event.data))
                yield event
        except ChatAPIError:
            if not (self._stop.is_set() and self._state.running_uuid):
                raise
        finally:
            uuid, self._state.running_uuid = self._state.running_uuid, None
            if (
                self._stop.is_set()
                and uuid
                and (not self._state.history or self._state.history[-1].response_uuid != uuid)
            ):
                # Stopped before the final event: record what the server holds now.
                self._state.record(self.client.message(uuid))

    def abort(self) -> bool:
        """Stop the answer being written (safe from another thread). False when nothing is running."""
        self._stop.set()
        uuid = self._state.running_uuid
        if uuid is None:
            return False
        self.client.abort(uuid)
        return True

    def clear(self) -> None:
        """Forget the conversation: the next `send` starts a new thread."""
        self._state.clear()

    def save(self, path: str | Path) -> Path:
        """Write the session (options, thread position, answers) as JSON. The token is not saved."""
        target = Path(path)
        target.write_text(json.dumps(self._state.dump(self.client.base_url), indent=2))
        return target

    def load(self, path: str | Path) -> ChatSession:
        """Replace this session's state with a saved one; returns self."""
        self._state.restore(_read_session_file(path))
        return self

    async def send_async(self, ask: str, **overrides: Any) -> ChatResponse:
        """`send` without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.send, ask, **overrides)

    def close(self) -> None:
        if self._state.running_uuid:
            self.abort()
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- async ------------------------------------------------------------------------------------


class AsyncClient:
    """The asyncio twin of `Client` (httpx.AsyncClient underneath)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=_headers(token), timeout=_timeout(timeout), transport=transport
        )

    def chat(self, scope: str | None = None, model: str | None = None, **params: Any) -> AsyncChatSession:
        return AsyncChatSession(self, {"scope": scope, "model": model, **params})

    @classmethod
    def load_session(
        cls, path: str | Path, token: str | None = None, base_url: str | None = None, **kwargs: Any
    ) -> AsyncChatSession:
        document = _read_session_file(path)
        session = AsyncChatSession(
            cls(base_url or document["base_url"], token, **kwargs), {}, owns_client=True
        )
        session._state.restore(document)
        return session

    async def generate(self, ask: str, parent_uuid: str | None = None, **params: Any) -> ChatResponse:
        body = _request_body(ask, parent_uuid, params, streaming=False)
        return ChatResponse.from_dict(_check(await self._http.post("/api/chat/generate", json=body)).json())

    async def stream(
        self, ask: str, parent_uuid: str | None = None, **params: Any
    ) -> AsyncIterator[ChatEvent]:
        async for event in self._stream(_request_body(ask, parent_uuid, params, streaming=True)):
            yield event

    async def _stream(
        self, body: dict[str, Any], stop: asyncio.Event | None = None
    ) -> AsyncIterator[ChatEvent]:
        headers = {"Accept": "text/event-stream, application/json"}  # errors (4xx) come as JSON
        async with self._http.stream("POST", "/api/chat/generate", json=body, headers=headers) as response:
            if response.is_error:
                await response.aread()
                _check(response)
            async for event in aiter_events(response.aiter_lines()):
                yield event
                if event.is_final:
                    return
        raise ChatAPIError(0, "the event stream ended before a done or error event")

    async def abort(self, response_uuid: str) -> dict[str, Any]:
        return _check(await self._http.post(f"/api/chat/messages/{response_uuid}/abort")).json()

    async def message(self, response_uuid: str) -> ChatResponse:
        return ChatResponse.from_dict(
            _check(await self._http.get(f"/api/chat/messages/{response_uuid}")).json()
        )

    async def thread(self, response_uuid: str) -> list[ChatResponse]:
        body = _check(await self._http.get(f"/api/chat/messages/{response_uuid}/thread")).json()
        return [ChatResponse.from_dict(m) for m in body["messages"]]

    async def feedback(self, response_uuid: str, liked: bool) -> ChatResponse:
        url = f"/api/chat/messages/{response_uuid}/feedback"
        return ChatResponse.from_dict(_check(await self._http.post(url, json={"liked": liked})).json())

    async def sources(self) -> list[dict[str, Any]]:
        return _check(await self._http.get("/api/sources")).json()

    async def models(self) -> list[dict[str, Any]]:
        return _check(await self._http.get("/api/models")).json()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncChatSession:
    """The asyncio twin of `ChatSession`: `await send(...)`, `async for e in stream(...)`."""

    def __init__(self, client: AsyncClient, params: dict[str, Any], *, owns_client: bool = False) -> None:
        self.client = client
        self._state = _SessionState({k: v for k, v in params.items() if v is not None})
        self._owns_client = owns_client
        self._stop = asyncio.Event()

    history = ChatSession.history
    parent_uuid = ChatSession.parent_uuid
    clear = ChatSession.clear
    save = ChatSession.save
    load = ChatSession.load

    async def send(self, ask: str, **overrides: Any) -> ChatResponse:
        answered_before = len(self._state.history)
        async for _event in self.stream(ask, **overrides):
            pass
        if len(self._state.history) == answered_before:
            raise ChatAPIError(0, "the server sent no answer")
        return self._state.history[-1]

    send_async = send

    async def stream(self, ask: str, **overrides: Any) -> AsyncIterator[ChatEvent]:
        body = self._state.body(ask, overrides)
        self._stop.clear()
        try:
            async for event in self.client._stream(body):
                if event.event == "start":
                    self._state.running_uuid = event.data["response_uuid"]
                    if self._stop.is_set():
                        await self.client.abort(self._state.running_uuid)
                if event.is_final:
                    self._state.record(ChatResponse.from_dict(event.data))
                yield event
        except ChatAPIError:
            if not (self._stop.is_set() and self._state.running_uuid):
                raise
        finally:
            uuid, self._state.running_uuid = self._state.running_uuid, None
            if (
                self._stop.is_set()
                and uuid
                and (not self._state.history or self._state.history[-1].response_uuid != uuid)
            ):
                self._state.record(await self.client.message(uuid))

    async def abort(self) -> bool:
        self._stop.set()
        uuid = self._state.running_uuid
        if uuid is None:
            return False
        await self.client.abort(uuid)
        return True

    async def aclose(self) -> None:
        if self._state.running_uuid:
            await self.abort()
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> AsyncChatSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
