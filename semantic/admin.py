from django.contrib import admin

from semantic.models import Dimension, Metric, SemanticStatement


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "source", "table", "format"]
    list_editable = ["label", "format"]
    list_filter = ["source", "format", "table"]
    search_fields = ["name", "label", "description", "expression", "synonyms"]
    fields = [
        "source",
        "name",
        "label",
        "description",
        "synonyms",
        "table",
        "expression",
        "filter",
        "time_dimension",
        "format",
    ]


@admin.register(Dimension)
class DimensionAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "source", "table", "kind"]
    list_editable = ["label"]
    list_filter = ["source", "kind", "table"]
    search_fields = ["name", "label", "description", "expression", "synonyms"]
    fields = [
        "source",
        "name",
        "label",
        "description",
        "synonyms",
        "table",
        "expression",
        "kind",
        "time_grains",
    ]


@admin.register(SemanticStatement)
class SemanticStatementAdmin(admin.ModelAdmin):
    list_display = ["name", "short_text", "source", "scope", "target", "always_include", "enabled"]
    list_editable = ["always_include", "enabled"]
    list_filter = ["source", "scope", "always_include", "enabled"]
    search_fields = ["name", "text", "target", "labels", "lookup_phrases"]
    fields = [
        "source",
        "name",
        "text",
        "scope",
        "target",
        "labels",
        "lookup_phrases",
        "always_include",
        "enabled",
    ]

    @admin.display(description="text")
    def short_text(self, statement: SemanticStatement) -> str:
        return statement.text if len(statement.text) <= 80 else statement.text[:77] + "..."
