"""An httpx MockTransport handler that speaks the chat API contract, for client unit tests."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx

ROWS = [["north", 120.5], ["south", 98.0], ["east", 143.25]]


class FakeChatAPI:
    """Records requests; answers generate (blocking and SSE), abort, message, thread, feedback."""

    def __init__(self, token: str = "secret-token", slow: bool = False) -> None:
        self.token = token
        self.slow = slow
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict] = []
        self.messages: dict[str, dict] = {}
        self.aborted: set[str] = set()
        self.abort_seen = threading.Event()

    def answer(self, body: dict, response_uuid: str, status: str = "succeeded") -> dict:
        data = {
            "columns": ["region", "revenue"],
            "types": ["VARCHAR", "DOUBLE"],
            "rows": ROWS,
            "row_count": 3,
            "truncated": False,
        }
        spec = {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": [{"region": r, "revenue": v} for r, v in ROWS]},
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "region", "type": "nominal"},
                "y": {"field": "revenue", "type": "quantitative"},
            },
        }
        return {
            "response": "East leads with 143.25.\n\n{data}\n\n{chart_spec}\n\n{sql}",
            "response_data": {
                "data": data,
                "sql": "SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region",
                "chart_spec": spec,
                "semantic_context": None,
                "catalog": None,
            },
            "is_new": body.get("parent_uuid") is None,
            "timestamp": int(time.time()),
            "response_uuid": response_uuid,
            "parent_uuid": body.get("parent_uuid"),
            "status": status,
            "error_info": None
            if status == "succeeded"
            else {"code": status, "message": "Stopped.", "stage": "sql"},
            "ask": body["ask"],
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Token {self.token}":
            return httpx.Response(401, json={"detail": "Invalid token."})
        path = request.url.path
        if path == "/api/chat/generate":
            body = json.loads(request.content)
            self.bodies.append(body)
            if not body.get("ask", "").strip():
                return httpx.Response(400, json={"ask": ["This field may not be blank."]})
            response_uuid = str(uuid.uuid4())
            self.messages[response_uuid] = {**self.answer(body, response_uuid, "running"), "response": ""}
            if body.get("streaming"):
                return httpx.Response(
                    200,
                    headers={"Content-Type": "text/event-stream"},
                    content=self._events(body, response_uuid),
                )
            self.messages[response_uuid] = self.answer(body, response_uuid)
            return httpx.Response(200, json=self.messages[response_uuid])
        parts = path.strip("/").split("/")  # api chat messages <uuid> [action]
        if parts[:3] == ["api", "chat", "messages"] and len(parts) >= 4:
            message = self.messages.get(parts[3])
            if message is None:
                return httpx.Response(404, json={"detail": "Not found."})
            action = parts[4] if len(parts) > 4 else None
            if action == "abort":
                self.aborted.add(parts[3])
                self.abort_seen.set()
                return httpx.Response(202, json={"response_uuid": parts[3], "status": "aborted"})
            if action == "thread":
                chain, node = [], message
                while node:
                    chain.append(node)
                    node = self.messages.get(node["parent_uuid"]) if node["parent_uuid"] else None
                return httpx.Response(200, json={"messages": chain[::-1]})
            if action == "feedback":
                message["liked"] = json.loads(request.content)["liked"]
                return httpx.Response(200, json=message)
            return httpx.Response(200, json=message)
        if path == "/api/sources":
            return httpx.Response(
                200,
                json=[{"name": "demo", "kind": "duckdb", "tables": [{"name": "orders", "description": ""}]}],
            )
        return httpx.Response(404, json={"detail": f"no route {path}"})

    def _events(self, body: dict, response_uuid: str) -> Iterator[bytes]:
        def sse(event: str, data: dict) -> bytes:
            return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()

        yield sse("start", {"response_uuid": response_uuid, "parent_uuid": body.get("parent_uuid")})
        yield b": heartbeat\n\n"
        yield sse("stage", {"stage": "sql", "state": "started", "elapsed_ms": None})
        for piece in ["SELECT region, ", "SUM(amount) ", "FROM orders"] * (100 if self.slow else 1):
            if response_uuid in self.aborted:
                self.messages[response_uuid] = self.answer(body, response_uuid, "aborted") | {"response": ""}
                yield sse("error", self.messages[response_uuid])
                return
            yield sse("delta", {"text": piece})
            if self.slow:
                time.sleep(0.01)
        yield sse("stage", {"stage": "sql", "state": "finished", "elapsed_ms": 3})
        self.messages[response_uuid] = self.answer(body, response_uuid)
        yield sse("done", self.messages[response_uuid])


class AsyncFakeChatAPI(FakeChatAPI):
    """The same, for httpx.AsyncClient (async streams)."""

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = self(request)
        if response.headers.get("Content-Type") == "text/event-stream":
            chunks = list(response.stream)  # the sync generator; a fake server may produce it eagerly

            async def body():
                for chunk in chunks:
                    yield chunk

            return httpx.Response(response.status_code, headers=response.headers, content=body())
        return response
