"""The rows of a semantic layer file (metrics, dimensions, statements) validated as the rows they become.

Each field is checked by the serializer field its model field maps to (lengths, choices, identifier
names, blank or not), then the source's tables and the model's own ``clean`` (the SQL parses, a metric
aggregates, lists hold strings); every error names its field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from rest_framework import serializers

from catalog.models import DataSource
from semantic.models import Dimension, Metric, SemanticStatement, identifier_validator


class SemanticRowSerializer(serializers.ModelSerializer):
    """One row of a file; ``context["source"]`` is its source (None for a statement about every source).

    Every field of ``Meta.fields`` is given (a file leaves out the defaults: ``row_data`` puts them back),
    so a row that is imported again is written whole, as the file describes it.
    """

    # The name chooses the row to update: uniqueness is the import's to check (duplicates in the file),
    # not a validator's (re-importing a row must not fail as "already exists").
    name = serializers.CharField(max_length=100, validators=[identifier_validator], trim_whitespace=False)

    class Meta:
        model: ClassVar[type[models.Model]]
        fields: ClassVar[list[str]]
        validators: ClassVar[list[Any]] = []

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type[serializers.Field], dict]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.CharField):
            kwargs["trim_whitespace"] = False  # text is stored as the file writes it
        return field_class, kwargs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        source: DataSource | None = self.context.get("source")
        if "table" in self.fields and source is not None:
            table = attrs.get("table")
            if not source.tables.filter(name=table).exists():
                raise serializers.ValidationError(
                    {"table": [f"{table!r} is not a table of source {source.name!r}"]}
                )
        self.Meta.model(**attrs).clean()  # its ValidationError names the field; DRF keeps the names
        return attrs


class MetricRowSerializer(SemanticRowSerializer):
    class Meta(SemanticRowSerializer.Meta):
        model = Metric
        fields = ["name", "label", "description", "synonyms", "table", "expression", "filter",
                  "time_dimension", "format"]  # fmt: skip


class DimensionRowSerializer(SemanticRowSerializer):
    class Meta(SemanticRowSerializer.Meta):
        model = Dimension
        fields = ["name", "label", "description", "synonyms", "table", "expression", "kind", "time_grains"]


class StatementRowSerializer(SemanticRowSerializer):
    class Meta(SemanticRowSerializer.Meta):
        model = SemanticStatement
        fields = ["name", "text", "scope", "target", "labels", "lookup_phrases", "always_include", "enabled"]


ROW_SERIALIZERS: dict[type[models.Model], type[SemanticRowSerializer]] = {
    Metric: MetricRowSerializer,
    Dimension: DimensionRowSerializer,
    SemanticStatement: StatementRowSerializer,
}


def field_default(model: type[models.Model], field_name: str) -> Any:
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field)  # FIELDS names concrete fields
    return field.get_default()


def row_data(model: type[models.Model], item: dict[str, Any]) -> dict[str, Any]:
    """A file's row with the fields it leaves out at their defaults (a file leaves out the defaults)."""
    return {name: item.get(name, field_default(model, name)) for name in ROW_SERIALIZERS[model].Meta.fields}


def describe_errors(errors: dict[str, Any]) -> str:
    """``field: message; other: message``, as the import lists a row's problems."""
    return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in errors.items())
