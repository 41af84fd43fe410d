"""REST endpoints of the chat service (contract: ChatRequest in, ChatResponse out)."""

from __future__ import annotations

import json
import logging
import uuid as uuid_lib

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from analytics_chat import lifecycle
from analytics_chat.access import ScopeError, allowed_tables, resolve_scope
from analytics_chat.errors import ErrorCode
from analytics_chat.models import ChatMessage, LLMModel
from catalog.models import DataSource

from .serializers import (
    ChatRequestSerializer,
    ChatResponseSerializer,
    FeedbackSerializer,
    RerunSerializer,
    ThreadDocumentSerializer,
    ThreadSummarySerializer,
)
from .streams import relay

log = logging.getLogger(__name__)


def owned_message(request, message_uuid) -> ChatMessage:
    """The caller's message; anyone else's answers 404, exactly like one that does not exist."""
    return get_object_or_404(ChatMessage, uuid=message_uuid, owner=request.user)


class EventStreamRenderer(BaseRenderer):
    """Lets clients ask for ``Accept: text/event-stream``; the stream itself is written by ``relay``."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()  # only errors before the stream starts are rendered here


class GenerateView(APIView):
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, EventStreamRenderer]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "generate"

    @extend_schema(
        request=ChatRequestSerializer,
        responses={
            200: OpenApiResponse(
                ChatResponseSerializer, description="The answer; with streaming, text/event-stream."
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Validation errors keyed by field."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="parent_uuid not found."),
        },
        summary="Ask a question; answer blocking or as a stream of events",
    )
    def post(self, request):
        serializer = ChatRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = None
        if data.get("parent_uuid"):
            parent = ChatMessage.objects.filter(uuid=data["parent_uuid"], owner=request.user).first()
            if parent is None:
                raise NotFound({"parent_uuid": ["No such message."]})
        scope = data["scope_obj"]
        if parent is not None and not (data.get("scope") or "").strip() and parent.scope:
            try:  # a follow-up stays on its thread's data unless it names other data
                scope = resolve_scope(request.user, parent.scope)
            except ScopeError as exc:
                raise ValidationError({"scope": [str(exc)]}) from exc

        with transaction.atomic():
            message = ChatMessage.objects.create(
                parent=parent,
                owner=request.user,
                ask=data["ask"],
                scope=str(scope),
                tags=data.get("tags", []),
                model=data["model"],
                options=serializer.options(),
                saved=data["save"],
                recall=data["recall"],
                streaming=data["streaming"],
            )
            transaction.on_commit(lambda: enqueue(message))
        message.refresh_from_db()
        if message.status == ChatMessage.Status.FAILED:
            return Response(ChatResponseSerializer(message).data, status=status.HTTP_503_SERVICE_UNAVAILABLE)

        first_event = {
            "response_uuid": str(message.uuid),
            "parent_uuid": str(parent.uuid) if parent else None,
        }
        streaming = data["streaming"]
        response = StreamingHttpResponse(
            relay(str(message.uuid), first_event, streaming=streaming),
            content_type="text/event-stream" if streaming else "application/json",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        response["X-Response-UUID"] = str(message.uuid)
        return response


# Celery's own limits, past the answer's time budget: the soft one raises in Python code that never
# checks the cancel token, the hard one kills a worker stuck in C code (the sweep then fails the message).
SOFT_LIMIT_GRACE_SECONDS = 3
HARD_LIMIT_GRACE_SECONDS = 20


def enqueue(message: ChatMessage) -> None:
    from analytics_chat.pipeline.tasks import answer_message, max_seconds_for

    budget = max_seconds_for(message)
    try:
        answer_message.apply_async(
            args=[str(message.uuid)],
            soft_time_limit=budget + SOFT_LIMIT_GRACE_SECONDS,
            time_limit=budget + HARD_LIMIT_GRACE_SECONDS,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2},
        )
    except Exception as exc:  # the broker is down: the message must not stay pending
        log.error("could not enqueue %s: %s", message.uuid, exc)
        lifecycle.fail(
            str(message.uuid),
            ErrorCode.BROKER_UNAVAILABLE,
            "The task queue is unavailable. Please try again shortly.",
        )


class MessageView(APIView):
    @extend_schema(responses=ChatResponseSerializer, summary="A message's status and answer (for polling)")
    def get(self, request, message_uuid):
        message = owned_message(request, message_uuid)
        if lifecycle.check_stale(message):
            message.refresh_from_db()
        return Response(ChatResponseSerializer(message).data)


class AbortView(APIView):
    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "AbortResult", {"response_uuid": serializers.UUIDField(), "status": serializers.CharField()}
            )
        },
        summary="Abort a running or queued answer",
    )
    def post(self, request, message_uuid):
        message = owned_message(request, message_uuid)
        new_status = lifecycle.request_abort(str(message.uuid))
        return Response(
            {"response_uuid": str(message.uuid), "status": new_status}, status=status.HTTP_202_ACCEPTED
        )


class MessageThreadView(APIView):
    @extend_schema(
        responses=inline_serializer("Thread", {"messages": ChatResponseSerializer(many=True)}),
        summary="The thread from its root to this message",
    )
    def get(self, request, message_uuid):
        message = owned_message(request, message_uuid)
        return Response({"messages": ChatResponseSerializer(message.ancestors(), many=True).data})


class FeedbackView(APIView):
    @extend_schema(
        request=FeedbackSerializer, responses=ChatResponseSerializer, summary="Like or dislike an answer"
    )
    def post(self, request, message_uuid):
        message = owned_message(request, message_uuid)
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message.liked = serializer.validated_data["liked"]
        message.save(update_fields=["liked"])
        return Response(ChatResponseSerializer(message).data)


class ThreadsView(APIView):
    @extend_schema(responses=ThreadSummarySerializer(many=True), summary="The caller's threads, newest first")
    def get(self, request):
        mine = ChatMessage.objects.filter(owner=request.user, saved=True)
        latest = mine.filter(root_uuid=OuterRef("root_uuid")).order_by("-created_at")
        roots = (
            mine.filter(parent__isnull=True)
            .annotate(
                updated_at=Subquery(latest.values("created_at")[:1]),
                last_uuid=Subquery(latest.values("uuid")[:1]),
                message_count=Subquery(
                    mine.filter(root_uuid=OuterRef("root_uuid"))
                    .values("root_uuid")
                    .annotate(n=Count("uuid"))
                    .values("n")[:1]
                ),
            )
            .order_by("-updated_at")
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(roots, request, view=self)
        assert page is not None  # None only without a PAGE_SIZE, which the settings set
        results = [
            {
                "root_uuid": str(m.uuid),
                "title": m.ask[:120],
                "last_uuid": str(m.last_uuid),
                "message_count": m.message_count,
                "created_at": m.created_at,
                "updated_at": m.updated_at,
            }
            for m in page
        ]
        return paginator.get_paginated_response(ThreadSummarySerializer(results, many=True).data)


class ThreadView(APIView):
    @extend_schema(responses={204: None}, summary="Delete a thread (aborting any answer still running in it)")
    def delete(self, request, root_uuid):
        messages = ChatMessage.objects.filter(root_uuid=root_uuid, owner=request.user)
        if not messages.filter(uuid=root_uuid).exists():
            raise NotFound()
        for active in messages.filter(status__in=ChatMessage.ACTIVE_STATUSES).values_list("uuid", flat=True):
            lifecycle.request_abort(str(active))
        messages.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


EXPORT_FIELDS = (
    "ask", "scope", "tags", "model", "options", "response", "response_data", "status", "is_new",
    "finish_reason", "usage", "stage_timings", "plan", "error_info", "liked",
)  # fmt: skip


class ThreadExportView(APIView):
    @extend_schema(responses=ThreadDocumentSerializer, summary="Export a thread as a JSON document")
    def get(self, request, root_uuid):
        messages = list(
            ChatMessage.objects.filter(root_uuid=root_uuid, owner=request.user).order_by(
                "depth", "created_at"
            )
        )
        if not messages or messages[0].uuid != uuid_lib.UUID(str(root_uuid)):
            raise NotFound()
        document = {
            "format": "analytics-chat-thread",
            "version": 1,
            "messages": [
                {
                    "uuid": str(m.uuid),
                    "parent_uuid": str(m.parent_id) if m.parent_id else None,
                    "created_at": m.created_at.isoformat(),
                    **{field: getattr(m, field) for field in EXPORT_FIELDS},
                }
                for m in messages
                if m.is_terminal
            ],
        }
        return Response(document)


class ThreadImportView(APIView):
    @extend_schema(
        request=ThreadDocumentSerializer,
        responses={
            201: inline_serializer(
                "ImportResult", {"root_uuid": serializers.UUIDField(), "messages": serializers.IntegerField()}
            )
        },
        summary="Import a thread exported before; it gets new uuids and belongs to the caller",
    )
    def post(self, request):
        serializer = ThreadDocumentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new_uuid: dict[uuid_lib.UUID, ChatMessage] = {}
        with transaction.atomic():
            for item in serializer.validated_data["messages"]:
                parent = new_uuid[item["parent_uuid"]] if item["parent_uuid"] else None
                message = ChatMessage(
                    parent=parent, owner=request.user, **{f: item[f] for f in EXPORT_FIELDS if f in item}
                )
                message.finish_reason = message.finish_reason or ""
                message.save()
                ChatMessage.objects.filter(uuid=message.uuid).update(finished_at=message.created_at)
                new_uuid[item["uuid"]] = message
        root = next(iter(new_uuid.values()))
        return Response(
            {"root_uuid": str(root.uuid), "messages": len(new_uuid)}, status=status.HTTP_201_CREATED
        )


class ChartView(APIView):
    @extend_schema(
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY}, summary="The answer's chart, rendered"
    )
    def get(self, request, message_uuid, fmt):
        from analytics_chat.presentation.render import render_png, render_svg

        message = owned_message(request, message_uuid)
        spec = (message.response_data or {}).get("chart_spec")
        if not spec:
            raise NotFound({"detail": "This answer has no chart."})
        if fmt == "svg":
            return HttpResponse(render_svg(spec), content_type="image/svg+xml")
        return HttpResponse(render_png(spec), content_type="image/png")


class DataCsvView(APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR}, summary="The full result of the answer's SQL as CSV"
    )
    def get(self, request, message_uuid):
        from analytics_chat.engine.linking import load_scope
        from analytics_chat.presentation.render import data_to_csv
        from catalog.execution import QueryError, run_query
        from catalog.guard import GuardError, check_sql

        message = owned_message(request, message_uuid)
        sql = (message.response_data or {}).get("sql")
        if not sql:
            raise NotFound({"detail": "This answer has no query result."})
        try:
            scope = resolve_scope(request.user, message.scope)
            source = DataSource.objects.get(name=scope.source, enabled=True)
            # The SQL may come from an imported thread: it is checked against today's scope like any other.
            guarded = check_sql(
                sql, allowed_tables=load_scope(source, scope.tables or None).names(), target=source.dialect
            )
            result = run_query(source, guarded.sql, row_cap=1_000_000)
        except (ScopeError, DataSource.DoesNotExist) as exc:
            raise NotFound({"detail": "The data of this answer is no longer available."}) from exc
        except GuardError as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_403_FORBIDDEN)
        except QueryError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        response = HttpResponse(data_to_csv(result.as_dict()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="answer-{message.uuid}.csv"'
        return response


class RerunView(APIView):
    @extend_schema(
        request=RerunSerializer,
        responses={
            201: OpenApiResponse(ChatResponseSerializer, description="A new answer under this one."),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="The SQL was refused or failed: {sql: [...]}."
            ),
        },
        summary="Run an answer's SQL again as the user edited it, through the same guard as generated SQL",
    )
    def post(self, request, message_uuid):
        from django.utils import timezone

        from analytics_chat.engine.linking import load_scope
        from analytics_chat.pipeline.state import DATA, AnswerState
        from analytics_chat.pipeline.tasks import parse_scope
        from analytics_chat.presentation.compose import compose_response
        from analytics_chat.presentation.explain import explain
        from catalog.execution import QueryError, run_query
        from catalog.guard import GuardError, check_sql

        message = owned_message(request, message_uuid)
        serializer = RerunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sql = serializer.validated_data["sql"]
        try:
            scope = resolve_scope(request.user, message.scope)
            source = DataSource.objects.get(name=scope.source, enabled=True)
        except (ScopeError, DataSource.DoesNotExist) as exc:
            raise NotFound({"detail": "The data of this answer is no longer available."}) from exc
        try:  # exactly what generated SQL goes through: the guard on today's scope, then the locked-down run
            guarded = check_sql(sql, allowed_tables=load_scope(source, scope.tables or None).names())
            result = run_query(source, guarded.sql)
        except GuardError as exc:
            raise ValidationError({"sql": [exc.message], "code": exc.code}) from exc
        except QueryError as exc:
            raise ValidationError({"sql": [str(exc)], "code": ErrorCode.QUERY_FAILED}) from exc
        state = AnswerState(
            message_uuid="", ask=sql, scope=parse_scope(str(scope)), model_name="", intent=DATA,
            wants={"data", "sql"}, sql=guarded.sql, data=result.as_dict(),
        )  # fmt: skip
        state.explanation = explain(state)
        state.response = compose_response(state)
        ask_limit = settings.CHAT["MAX_ASK_CHARS"]
        rerun = ChatMessage.objects.create(
            parent=message, owner=request.user, ask=sql[:ask_limit], scope=str(scope), tags=["edited-sql"],
            model="", recall=message.recall, status=ChatMessage.Status.SUCCEEDED, response=state.response,
            response_data=state.response_data, finish_reason="stop", is_new=False,
            plan={"intent": DATA, "path": "edited_sql", "wants": sorted(state.wants), "semantic_query": None,
                  "sql_attempts": []},
            started_at=timezone.now(), finished_at=timezone.now(),
        )  # fmt: skip
        return Response(ChatResponseSerializer(rerun).data, status=status.HTTP_201_CREATED)


class SourcesView(APIView):
    @extend_schema(summary="The data sources and tables the caller may query", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        allowed = allowed_tables(request.user)
        sources = []
        for source in DataSource.objects.filter(name__in=allowed, enabled=True).prefetch_related("tables"):
            visible = allowed[source.name]
            tables = [
                {"name": t.name, "description": t.description, "row_count": t.row_count}
                for t in source.tables.all()
                if t.enabled and (visible is None or t.name in visible)
            ]
            sources.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "description": source.description,
                    "tables": tables,
                }
            )
        return Response(sources)


class ModelsView(APIView):
    @extend_schema(summary="The models a request may name", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(
            [
                {
                    "name": m.name,
                    "is_default": m.is_default,
                    "context_size": m.context_size,
                    "backend": m.backend,
                }
                for m in LLMModel.objects.filter(enabled=True)
            ]
        )
