"""What a source holds and what to ask it: its start page (tables, metrics, dimensions) and checked
suggested questions. A user sees only what their scope lets them query; anything else answers 404."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_chat.access import ScopeError, allowed_tables, resolve_scope
from catalog.execution import QueryError
from catalog.models import DataSource
from catalog.snapshots import SourceError
from catalog.uploads import (
    UploadError,
    discard,
    find_staged,
    import_upload,
    max_upload_bytes,
    stage,
    validate_source_name,
)
from semantic.compiler import SemanticModel
from semantic.suggestions import cached_suggestions

from .serializers import (
    ImportRequestSerializer,
    SourceDetailSerializer,
    SuggestionsSerializer,
    UploadPreviewSerializer,
    UploadRequestSerializer,
)
from .streams import sse
from .views import EventStreamRenderer

log = logging.getLogger(__name__)

TABLES_PARAMETER = OpenApiParameter(
    "tables",
    OpenApiTypes.STR,
    description="Comma-separated table names: narrow the source to these tables.",
)


def visible_source(request, name: str) -> tuple[DataSource, list[str] | None]:
    """The source and the tables the caller may use (None: all of them), narrowed by ``?tables=``."""
    allowed = allowed_tables(request.user)
    source = DataSource.objects.filter(name=name, enabled=True).first()
    if source is None or name not in allowed:
        raise NotFound({"detail": f"No data source named {name!r}."})
    wanted = [t.strip() for t in request.query_params.get("tables", "").split(",") if t.strip()]
    try:
        scope = resolve_scope(request.user, ",".join(f"{name}.{t}" for t in wanted) or name)
    except ScopeError as exc:
        raise ValidationError({"tables": [str(exc)]}) from exc
    return source, scope.tables or None


class SourceDetailView(APIView):
    @extend_schema(
        operation_id="sources_detail",
        parameters=[TABLES_PARAMETER],
        responses=SourceDetailSerializer,
        summary="A source's start page: its tables with row counts, its metrics and dimensions",
    )
    def get(self, request, name):
        source, tables = visible_source(request, name)
        model = SemanticModel(source, tables)
        rows = source.tables.filter(enabled=True, name__in=model.tables).order_by("name")
        document = {
            "name": source.name,
            "kind": source.kind,
            "description": source.description,
            "tables": [
                {"name": t.name, "description": t.description, "row_count": t.row_count} for t in rows
            ],
            "metrics": [
                {"name": m.name, "label": m.label, "description": m.description, "format": m.format}
                for m in sorted(model.metrics.values(), key=lambda m: m.id)
            ],
            "dimensions": [
                {"name": d.name, "label": d.label, "description": d.description, "kind": d.kind}
                for d in sorted(model.dimensions.values(), key=lambda d: d.id)
            ],
        }
        return Response(SourceDetailSerializer(document).data)


class SuggestionsView(APIView):
    @extend_schema(
        parameters=[TABLES_PARAMETER],
        responses=SuggestionsSerializer,
        summary="Questions to ask this source, each checked to compile and run",
    )
    def get(self, request, name):
        source, tables = visible_source(request, name)
        document = {"source": source.name, "suggestions": cached_suggestions(source, tables)}
        return Response(SuggestionsSerializer(document).data)


# --- bring your own data (staff with the right to add sources) --------------------------------------


class CanAddSources(BasePermission):
    message = "Only staff who may add data sources can upload files."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_staff and user.has_perm("catalog.add_datasource")
        )


def upload_error(error: UploadError) -> Response:
    return Response({error.field: [error.message]}, status=error.status)


class UploadView(APIView):
    permission_classes = [IsAuthenticated, CanAddSources]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="sources_uploads_preview",
        request={"multipart/form-data": UploadRequestSerializer},
        responses={201: UploadPreviewSerializer, 400: OpenApiTypes.OBJECT, 413: OpenApiTypes.OBJECT},
        summary="Upload a CSV, Parquet, SQLite or DuckDB file; answers its preview (tables, types, first rows)",
    )
    def post(self, request):
        limit = max_upload_bytes()
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + 64 * 1024:  # refused before the body is read
            return Response(
                {"file": [f"The file is {declared / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB."]},
                status=413,
            )
        serializer = UploadRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            _, preview = stage(serializer.validated_data["file"])
        except UploadError as error:
            return upload_error(error)
        return Response(UploadPreviewSerializer(preview).data, status=status.HTTP_201_CREATED)


class UploadImportView(APIView):
    permission_classes = [IsAuthenticated, CanAddSources]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="sources_uploads_import",
        request=ImportRequestSerializer,
        responses={201: SourceDetailSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="Import a staged upload as a source (with streaming: progress events, then done or error)",
    )
    def post(self, request, upload_id):
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            find_staged(upload_id)
            validate_source_name(data["name"])
        except UploadError as error:
            return upload_error(error)
        if data["streaming"]:
            response = StreamingHttpResponse(
                import_events(upload_id, data["name"], data["description"]), content_type="text/event-stream"
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        try:
            source = import_upload(upload_id, data["name"], data["description"])
        except UploadError as error:
            return upload_error(error)
        except (ValueError, QueryError, SourceError) as error:
            return Response({"file": [f"The import failed: {error}"]}, status=400)
        return Response(
            {"name": source.name, "tables": source.tables.count()}, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={204: None}, summary="Discard a staged upload")
    def delete(self, request, upload_id):
        try:
            discard(upload_id)
        except UploadError as error:
            return upload_error(error)
        return Response(status=status.HTTP_204_NO_CONTENT)


async def import_events(upload_id: str, name: str, description: str) -> AsyncIterator[bytes]:
    """The import runs in a thread; its progress comes out as SSE ``progress`` events, then ``done``
    (the new source's name and table count) or ``error``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()

    def put(event: str, payload: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, payload))

    def work() -> None:
        try:
            source = import_upload(
                upload_id, name, description,
                progress=lambda step, done, total: put("progress", {"step": step, "done": done, "total": total}),
            )  # fmt: skip
            put("done", {"name": source.name, "tables": source.tables.count()})
        except UploadError as error:
            put("error", {error.field: [error.message]})
        except Exception as error:
            log.warning("import of upload %s failed: %s", upload_id, error)
            put("error", {"file": [f"The import failed: {error}"]})
        finally:
            connection.close()

    threading.Thread(target=work, name=f"import-{name}", daemon=True).start()
    while True:
        event, payload = await queue.get()
        yield sse(event, payload)
        if event in ("done", "error"):
            return
