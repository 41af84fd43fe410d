"""What a source holds and what to ask it: its start page (tables, metrics, dimensions) and checked
suggested questions. A user sees only what their scope lets them query; anything else answers 404."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_chat.access import ScopeError, allowed_tables, resolve_scope
from catalog.models import DataSource
from semantic.compiler import SemanticModel
from semantic.suggestions import cached_suggestions

from .serializers import SourceDetailSerializer, SuggestionsSerializer

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
