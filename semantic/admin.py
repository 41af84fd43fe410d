from django.contrib import admin

from semantic.models import Dimension, Metric, SemanticStatement
from semantic.yaml_io import FIELDS


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "source", "table", "format"]
    list_editable = ["label", "format"]
    list_filter = ["source", "format", "table"]
    search_fields = ["name", "label", "description", "expression", "synonyms"]
    fields = ["source", *FIELDS[Metric]]  # the fields of the YAML format, one list for both


@admin.register(Dimension)
class DimensionAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "source", "table", "kind"]
    list_editable = ["label"]
    list_filter = ["source", "kind", "table"]
    search_fields = ["name", "label", "description", "expression", "synonyms"]
    fields = ["source", *FIELDS[Dimension]]  # the fields of the YAML format, one list for both


@admin.register(SemanticStatement)
class SemanticStatementAdmin(admin.ModelAdmin):
    list_display = ["name", "short_text", "source", "scope", "target", "always_include", "enabled"]
    list_editable = ["always_include", "enabled"]
    list_filter = ["source", "scope", "always_include", "enabled"]
    search_fields = ["name", "text", "target", "labels", "lookup_phrases"]
    fields = ["source", *FIELDS[SemanticStatement]]

    @admin.display(description="text")
    def short_text(self, statement: SemanticStatement) -> str:
        return statement.text if len(statement.text) <= 80 else statement.text[:77] + "..."
