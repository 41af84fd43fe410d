import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from .models import ChatMessage, UserScope

try:  # the model registry's admin lives with the model layer
    from .llm import admin as _llm_admin  # noqa: F401
except ImportError:  # pragma: no cover - during partial installs
    pass


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = (
        "short_ask",
        "owner",
        "status",
        "current_stage",
        "scope",
        "model",
        "depth",
        "liked",
        "created_at",
    )
    list_filter = ("status", "liked", "model", "saved")
    search_fields = ("ask", "response", "uuid", "root_uuid", "owner__username")
    date_hierarchy = "created_at"
    raw_id_fields = ("parent", "owner")
    readonly_fields = (
        "uuid", "root_uuid", "depth", "thread", "status", "current_stage", "error_info", "finish_reason",
        "usage", "stage_timings", "plan", "response_data_pretty", "worker", "created_at", "started_at", "finished_at",
    )  # fmt: skip
    exclude = ("response_data",)

    @admin.display(description="ask")
    def short_ask(self, obj: ChatMessage) -> str:
        return obj.ask[:80]

    @admin.display(description="thread (root to this message)")
    def thread(self, obj: ChatMessage) -> str:
        rows = format_html_join(
            "",
            '<li style="margin-left:{}em"><a href="../../{}/change/">{}</a> <em>{}</em></li>',
            ((m.depth, m.uuid, m.ask[:100], m.status) for m in obj.ancestors()),
        )
        return format_html("<ol style='list-style:none;padding:0'>{}</ol>", rows)

    @admin.display(description="response data")
    def response_data_pretty(self, obj: ChatMessage) -> str:
        return format_html(
            "<pre style='max-height:30em;overflow:auto'>{}</pre>",
            json.dumps(obj.response_data, indent=2, default=str),
        )


@admin.register(UserScope)
class UserScopeAdmin(admin.ModelAdmin):
    list_display = ("user", "default_scope")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
