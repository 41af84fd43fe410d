"""A small in-memory stand-in for the chat REST API, following the contract, for browser tests of the
page before (and independently of) the real pipeline. Session auth and CSRF are Django's real ones.

Asks containing "slowly" stream deltas for a long time so the abort path can be exercised.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from functools import wraps

import altair as alt
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.models import Token

MESSAGES: dict[str, dict] = {}
ABORTED: set[str] = set()
LOCK = threading.Lock()

ROWS = [["2024-01", 1200.5], ["2024-02", 1350.0], ["2024-03", 980.25], ["2024-04", 1610.75]]
STAGES = ["route", "context", "sql", "execute", "chart", "compose"]


def reset() -> None:
    with LOCK:
        MESSAGES.clear()
        ABORTED.clear()


def _chart_spec() -> dict:
    values = [{"month": m, "revenue": r} for m, r in ROWS]
    return (
        alt.Chart(alt.Data(values=values)).mark_line(point=True).encode(x="month:O", y="revenue:Q").to_dict()
    )


def _answer(message: dict) -> dict:
    data = {
        "columns": ["month", "revenue"],
        "types": ["VARCHAR", "DOUBLE"],
        "rows": ROWS,
        "row_count": 4,
        "truncated": False,
    }
    sql = "SELECT strftime(order_date, '%Y-%m') AS month, SUM(amount) AS revenue\nFROM demo.orders\nGROUP BY 1\nORDER BY 1"
    return {
        **message,
        "response": "Revenue peaked at 1,610.75 in 2024-04.\n\n{chart_spec}\n\n{data}\n\nThe query:\n\n{sql}",
        "response_data": {
            "data": data,
            "sql": sql,
            "chart_spec": _chart_spec(),
            "semantic_context": None,
            "catalog": None,
        },
        "status": "succeeded",
        "current_stage": "compose",
        "finish_reason": "stop",
        "elapsed_ms": 120,
    }


def _new_message(request: HttpRequest, body: dict) -> dict:
    parent_uuid = body.get("parent_uuid")
    parent = MESSAGES.get(parent_uuid) if parent_uuid else None
    response_uuid = str(uuid.uuid4())
    return {
        "response": "",
        "response_data": {
            "data": None,
            "sql": None,
            "chart_spec": None,
            "semantic_context": None,
            "catalog": None,
        },
        "is_new": parent is None,
        "timestamp": int(time.time()),
        "response_uuid": response_uuid,
        "parent_uuid": parent_uuid,
        "root_uuid": parent["root_uuid"] if parent else response_uuid,
        "status": "running",
        "current_stage": "route",
        "finish_reason": "",
        "usage": {"prompt_tokens": 10, "cached_prompt_tokens": 0, "completion_tokens": 5},
        "elapsed_ms": None,
        "error_info": None,
        "ask": body["ask"],
        "scope": body.get("scope") or "demo",
        "tags": body.get("tags") or [],
        "model": body.get("model") or "stub-model",
        "liked": None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "owner": request.user.pk,
    }


def _public(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in {"owner", "root_uuid"}}


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _authenticated(view):
    """Token auth (Authorization: Token …) or the session with Django's CSRF check, as DRF does."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        keyword, _, key = request.headers.get("Authorization", "").partition(" ")
        if keyword == "Token":
            token = Token.objects.select_related("user").filter(key=key).first()
            if token is None:
                return JsonResponse({"detail": "Invalid token."}, status=401)
            request.user = token.user
        elif request.user.is_authenticated:
            rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
            if rejected is not None:
                return JsonResponse({"detail": "CSRF Failed."}, status=403)
        else:
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


@_authenticated
def generate(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    body = json.loads(request.body or b"{}")
    if not str(body.get("ask", "")).strip():
        return JsonResponse({"ask": ["This field is required."]}, status=400)
    message = _new_message(request, body)
    with LOCK:
        MESSAGES[message["response_uuid"]] = message
    if not body.get("streaming"):
        final = _answer(message)
        MESSAGES[message["response_uuid"]] = final
        return JsonResponse(_public(final))
    slow = "slowly" in body["ask"].lower()
    return StreamingHttpResponse(_events(message, slow), content_type="text/event-stream")


def _events(message: dict, slow: bool) -> Iterator[bytes]:
    uuid_ = message["response_uuid"]
    yield _sse("start", {"response_uuid": uuid_, "parent_uuid": message["parent_uuid"]})
    for stage in STAGES:
        yield _sse("stage", {"stage": stage, "state": "started", "elapsed_ms": None})
        if stage == "sql":
            for piece in ["SELECT month, ", "SUM(amount) ", "FROM demo.orders"] * (200 if slow else 1):
                if uuid_ in ABORTED:
                    final = {
                        **message,
                        "status": "aborted",
                        "finish_reason": "aborted",
                        "error_info": {"code": "aborted", "message": "Stopped by the user.", "stage": stage},
                    }
                    MESSAGES[uuid_] = final
                    yield _sse("error", _public(final))
                    return
                yield _sse("delta", {"text": piece})
                time.sleep(0.15 if slow else 0.05)
        yield _sse("stage", {"stage": stage, "state": "finished", "elapsed_ms": 5})
    final = _answer(message)
    MESSAGES[uuid_] = final
    yield _sse("done", _public(final))


@_authenticated
def message_detail(request: HttpRequest, uuid_: str) -> HttpResponse:
    message = MESSAGES.get(str(uuid_))
    if message is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    return JsonResponse(_public(message))


@_authenticated
def abort(request: HttpRequest, uuid_: str) -> HttpResponse:
    ABORTED.add(str(uuid_))
    message = MESSAGES.get(str(uuid_), {})
    if message.get("status") == "running":
        message["status"] = "aborted"
    return JsonResponse({"response_uuid": str(uuid_), "status": message.get("status", "aborted")}, status=202)


@_authenticated
def feedback(request: HttpRequest, uuid_: str) -> HttpResponse:
    liked = json.loads(request.body).get("liked")
    if not isinstance(liked, bool):
        return JsonResponse({"liked": ["Must be true or false."]}, status=400)
    MESSAGES[str(uuid_)]["liked"] = liked
    return JsonResponse(_public(MESSAGES[str(uuid_)]))


@_authenticated
def thread(request: HttpRequest, uuid_: str) -> HttpResponse:
    chain, node = [], MESSAGES.get(str(uuid_))
    while node is not None:
        chain.append(_public(node))
        node = MESSAGES.get(node["parent_uuid"]) if node["parent_uuid"] else None
    return JsonResponse({"messages": chain[::-1]})


@_authenticated
def threads(request: HttpRequest) -> HttpResponse:
    roots: dict[str, list[dict]] = {}
    for message in MESSAGES.values():
        if message["owner"] == request.user.pk:
            roots.setdefault(message["root_uuid"], []).append(message)
    results = [
        {
            "root_uuid": root,
            "title": MESSAGES[root]["ask"],
            "last_uuid": items[-1]["response_uuid"],
            "message_count": len(items),
            "created_at": MESSAGES[root]["created_at"],
            "updated_at": items[-1]["created_at"],
        }
        for root, items in roots.items()
    ][::-1]
    return JsonResponse({"count": len(results), "next": None, "previous": None, "results": results})


@_authenticated
def sources(request: HttpRequest) -> HttpResponse:
    tables = [
        {"name": "orders", "description": "One row per order"},
        {"name": "customers", "description": "Buyers"},
    ]
    return JsonResponse([{"name": "demo", "kind": "duckdb", "tables": tables}], safe=False)


@_authenticated
def models(request: HttpRequest) -> HttpResponse:
    return JsonResponse([{"name": "stub-model", "is_default": True}], safe=False)


urlpatterns = [
    path("chat/generate", generate),
    path("chat/messages/<uuid:uuid_>", message_detail),
    path("chat/messages/<uuid:uuid_>/abort", abort),
    path("chat/messages/<uuid:uuid_>/feedback", feedback),
    path("chat/messages/<uuid:uuid_>/thread", thread),
    path("chat/threads", threads),
    path("sources", sources),
    path("models", models),
]
