"""Django admin for the model registry (imported by analytics_chat/admin.py)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from analytics_chat.models import LLMModel


@admin.register(LLMModel)
class LLMModelAdmin(admin.ModelAdmin):
    list_display = ("name", "backend", "path", "size", "is_default", "enabled")
    list_filter = ("backend", "enabled", "is_default")
    search_fields = ("name", "path")
    readonly_fields = ("sha256", "size_bytes", "created_at")

    @admin.display(description="size", ordering="size_bytes")
    def size(self, model: LLMModel) -> str:
        return filesizeformat(model.size_bytes) if model.size_bytes else "-"
