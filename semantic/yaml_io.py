"""The whole semantic layer as YAML, so it can live in version control.

Layout::

    version: 1
    statements: [...]            # statements that apply to every source
    sources:
      demo:
        metrics: [{name, label, description, synonyms, table, expression, filter, time_dimension, format}]
        dimensions: [{name, label, description, synonyms, table, expression, kind, time_grains}]
        statements: [{name, text, scope, target, labels, lookup_phrases, always_include, enabled}]

Rows are matched by name, so importing the same file twice leaves the same rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml
from django.db import models, transaction

from catalog.models import DataSource
from semantic.models import Dimension, Metric, SemanticStatement
from semantic.serializers import ROW_SERIALIZERS, describe_errors, field_default, row_data

FORMAT_VERSION = 1
# The fields of each kind of row in a file: the fields its serializer validates.
FIELDS: dict[type[models.Model], list[str]] = {
    model: serializer.Meta.fields for model, serializer in ROW_SERIALIZERS.items()
}
SECTIONS = {"metrics": Metric, "dimensions": Dimension, "statements": SemanticStatement}


class SemanticImportError(ValueError):
    """The file does not describe a valid semantic layer; ``errors`` lists every problem with its place."""

    def __init__(self, errors: list[str]):
        super().__init__("Invalid semantic layer file:\n  " + "\n  ".join(errors))
        self.errors = errors


def _row_to_dict(row: Any) -> dict[str, Any]:
    data = {}
    for field_name in FIELDS[type(row)]:
        value = getattr(row, field_name)
        if field_name == "name" or value != field_default(type(row), field_name):  # keep files short
            data[field_name] = value
    return data


def export_semantic(source_name: str | None = None) -> dict[str, Any]:
    """The semantic layer of one source (or of all, with the global statements) as plain data."""
    sources = DataSource.objects.order_by("name")
    if source_name is not None:
        sources = sources.filter(name=source_name)
        if not sources.exists():
            raise SemanticImportError([f"source {source_name!r} does not exist"])
    document: dict[str, Any] = {"version": FORMAT_VERSION}
    if source_name is None:
        document["statements"] = [_row_to_dict(s) for s in SemanticStatement.objects.filter(source=None)]
    document["sources"] = {
        source.name: {
            "metrics": [_row_to_dict(m) for m in source.metrics.all()],
            "dimensions": [_row_to_dict(d) for d in source.dimensions.all()],
            "statements": [_row_to_dict(s) for s in source.statements.all()],
        }
        for source in sources
    }
    return document


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _sync_section(
    model: type[Any],
    source: DataSource | None,
    items: Any,
    where: str,
    prune: bool,
    errors: list[str],
) -> Counter:
    counts: Counter = Counter()
    if not isinstance(items, list):
        errors.append(f"{where}: must be a list")
        return counts
    seen_names = []
    for index, item in enumerate(items):
        place = f"{where}[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{place}: must be a mapping")
            continue
        unknown = sorted(set(item) - set(FIELDS[model]))
        if unknown:
            errors.append(
                f"{place}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS[model])}"
            )
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name:
            errors.append(f"{place}: 'name' is required")
            continue
        place = f"{place} ({name})"
        if name in seen_names:
            errors.append(f"{place}: duplicate name")
            continue
        seen_names.append(name)
        row = model._default_manager.filter(source=source, name=name).first()
        serializer = ROW_SERIALIZERS[model](row, data=row_data(model, item), context={"source": source})
        if not serializer.is_valid():
            errors.append(f"{place}: {describe_errors(serializer.errors)}")
            continue
        if row is not None and _row_to_dict(row) == _row_to_dict(model(**serializer.validated_data)):
            counts["unchanged"] += 1
            continue
        serializer.save(source=source)
        counts["updated" if row is not None else "created"] += 1
    if prune:
        deleted, _ = model._default_manager.filter(source=source).exclude(name__in=seen_names).delete()
        counts["deleted"] += deleted
    return counts


def import_semantic(document: Any, prune: bool = False) -> dict[str, int]:
    """Create or update the rows a document describes; with ``prune``, delete the ones it leaves out.

    Everything is validated first; on any error nothing is written and SemanticImportError lists them all.
    """
    errors: list[str] = []
    counts: Counter = Counter()
    if not isinstance(document, dict):
        raise SemanticImportError(["the file must be a mapping with 'version' and 'sources'"])
    unknown = sorted(set(document) - {"version", "statements", "sources"})
    if unknown:
        raise SemanticImportError(
            [f"unknown top-level key(s) {', '.join(unknown)}; allowed: version, statements, sources"]
        )
    if document.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise SemanticImportError(
            [f"version: {document['version']!r} is not supported (expected {FORMAT_VERSION})"]
        )
    sources = document.get("sources") or {}
    if not isinstance(sources, dict):
        raise SemanticImportError(["sources: must be a mapping from source name to its semantic layer"])
    with transaction.atomic():
        if "statements" in document:
            counts += _sync_section(
                SemanticStatement, None, document["statements"], "statements", prune, errors
            )
        for source_name, layer in sources.items():
            source = DataSource.objects.filter(name=source_name).first()
            if source is None:
                errors.append(
                    f"sources.{source_name}: source does not exist; import it first (import_source)"
                )
                continue
            if not isinstance(layer, dict) or set(layer) - set(SECTIONS):
                errors.append(f"sources.{source_name}: must be a mapping with keys {', '.join(SECTIONS)}")
                continue
            for section, model in SECTIONS.items():
                if section in layer:
                    where = f"sources.{source_name}.{section}"
                    counts += _sync_section(model, source, layer[section], where, prune, errors)
        if errors:
            transaction.set_rollback(True)
            raise SemanticImportError(errors)
    return {key: counts[key] for key in ("created", "updated", "unchanged", "deleted")}


def load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SemanticImportError([f"not valid YAML: {error}"]) from error
