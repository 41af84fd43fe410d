"""Request validation. Every rule names the field it is about; nothing is written before all pass."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from analytics_chat.access import ScopeError, resolve_scope
from analytics_chat.models import ChatMessage

GENERATION_OPTIONS = (
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repeat_penalty",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "max_tokens",
    "stop",
)
# Request options stored with the message besides the generation options.
REQUEST_OPTIONS = (*GENERATION_OPTIONS, "max_seconds")


class ChatRequestSerializer(serializers.Serializer):
    ask = serializers.CharField(max_length=settings.CHAT["MAX_ASK_CHARS"], trim_whitespace=True)
    parent_uuid = serializers.UUIDField(required=False, allow_null=True)
    scope = serializers.CharField(required=False, allow_blank=True, max_length=300)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=20)
    model = serializers.CharField(required=False, allow_blank=True, max_length=100)
    streaming = serializers.BooleanField(required=False, default=False)
    save = serializers.BooleanField(required=False, default=True)  # type: ignore[assignment]  # a declared field (the metaclass takes it off the class)
    recall = serializers.BooleanField(required=False, default=True)

    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=2.0)
    top_k = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=1000)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=1.0)
    min_p = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=1.0)
    repeat_penalty = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=2.0)
    frequency_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2.0, max_value=2.0)
    presence_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2.0, max_value=2.0)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    stop = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=4)
    max_seconds = serializers.FloatField(required=False, allow_null=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def validate_model(self, value: str) -> str:
        from analytics_chat.llm.errors import UnknownModel
        from analytics_chat.llm.registry import resolve_model

        try:
            return resolve_model(value or None).name
        except UnknownModel as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_max_seconds(self, value: float | None) -> float | None:
        limit = settings.CHAT["MAX_SECONDS"]
        if value is not None and not 0 < value <= limit:
            raise serializers.ValidationError(
                f"Must be more than 0 and at most {limit:g} seconds (the service's AC_MAX_SECONDS)."
            )
        return value

    def validate(self, attrs):
        user = self.context["request"].user
        try:
            attrs["scope_obj"] = resolve_scope(user, attrs.get("scope"))
        except ScopeError as exc:
            raise serializers.ValidationError({"scope": [str(exc)]}) from exc
        if "model" not in attrs:
            attrs["model"] = self.validate_model("")
        max_tokens = attrs.get("max_tokens")
        if max_tokens is not None:
            from analytics_chat.llm.registry import resolve_model

            context_size = resolve_model(attrs["model"]).context_size
            if max_tokens >= context_size:
                raise serializers.ValidationError(
                    {"max_tokens": [f"Must be less than the model's context size ({context_size})."]}
                )
        return attrs

    def options(self) -> dict:
        return {k: v for k in REQUEST_OPTIONS if (v := self.validated_data.get(k)) not in (None, [])}


class FeedbackSerializer(serializers.Serializer):
    liked = serializers.BooleanField()


# The placeholders of ChatResponse.response_data: each is always there, None when the answer has none.
EMPTY_RESPONSE_DATA: dict[str, Any] = {
    "data": None,
    "sql": None,
    "chart_spec": None,
    "semantic_context": None,
    "catalog": None,
    "explanation": None,
}
EMPTY_USAGE = {"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0}


class ResponseDataField(serializers.DictField):
    """Every placeholder of ``EMPTY_RESPONSE_DATA``, from the message's response_data (nothing else)."""

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        present = {k: v for k, v in (value or {}).items() if k in EMPTY_RESPONSE_DATA}
        return super().to_representation({**EMPTY_RESPONSE_DATA, **present})


class DictOrDefaultField(serializers.DictField):
    """A dict, or ``default_value`` when the stored one is empty."""

    def __init__(self, *, default_value: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_value = default_value

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return super().to_representation(value or dict(self.default_value))


class BlankAsNullCharField(serializers.CharField):
    """Text, or None for the empty string (a finish reason not yet known)."""

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]  # None is JSON null
        return str(value) if value else None


class IsoDateTimeField(serializers.DateTimeField):
    """``datetime.isoformat()`` as stored (``+00:00``, not DRF's ``Z``): the API's spelling from the start."""

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]  # None is JSON null
        return value.isoformat() if value else None


class TimestampField(serializers.FloatField):
    """Seconds since the epoch of the answer (its finish, or its creation while it runs)."""

    def to_representation(self, value: ChatMessage) -> float | None:  # type: ignore[override]  # source="*"
        stamp = value.finished_at or value.created_at
        return stamp.timestamp() if stamp else None


class ChatResponseSerializer(serializers.Serializer):
    """The ChatResponse of a message: what the API and the stream's last event send for it."""

    response = serializers.CharField()
    response_data = ResponseDataField()
    is_new = serializers.BooleanField()
    timestamp = TimestampField(source="*")
    response_uuid = serializers.UUIDField(source="uuid")
    parent_uuid = serializers.UUIDField(source="parent_id", allow_null=True)
    status = serializers.ChoiceField(choices=ChatMessage.Status.choices)
    current_stage = serializers.CharField()
    finish_reason = BlankAsNullCharField(allow_null=True)
    usage = DictOrDefaultField(default_value=EMPTY_USAGE)
    elapsed_ms = serializers.IntegerField(allow_null=True)
    stage_timings = DictOrDefaultField(default_value={})
    error_info = serializers.DictField(allow_null=True)
    ask = serializers.CharField()
    scope = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField()
    liked = serializers.BooleanField(allow_null=True)
    created_at = IsoDateTimeField()


class ThreadSummarySerializer(serializers.Serializer):
    root_uuid = serializers.UUIDField()
    title = serializers.CharField()
    last_uuid = serializers.UUIDField()
    message_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def contains_nul(value) -> bool:
    """True when U+0000 is anywhere in a JSON value (keys too): PostgreSQL text and jsonb cannot store it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class ExportedMessageSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    parent_uuid = serializers.UUIDField(allow_null=True)
    ask = serializers.CharField(max_length=settings.CHAT["MAX_ASK_CHARS"])
    scope = serializers.CharField(allow_blank=True, max_length=300, required=False, default="")
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
    model = serializers.CharField(allow_blank=True, max_length=100, required=False, default="")
    options = serializers.DictField(required=False, default=dict)
    response = serializers.CharField(allow_blank=True, required=False, default="")
    response_data = serializers.DictField(required=False, default=dict)
    status = serializers.ChoiceField(choices=[(s, s) for s in ChatMessage.TERMINAL_STATUSES])
    is_new = serializers.BooleanField(required=False, default=True)
    finish_reason = serializers.CharField(allow_blank=True, allow_null=True, required=False, default="")
    usage = serializers.DictField(required=False, default=dict)
    stage_timings = serializers.DictField(required=False, default=dict)
    plan = serializers.DictField(required=False, default=dict)
    error_info = serializers.DictField(required=False, allow_null=True, default=None)
    liked = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        for name in ("options", "response_data", "usage", "stage_timings", "plan", "error_info"):
            if contains_nul(attrs.get(name)):
                raise serializers.ValidationError({name: ["May not contain NUL (\\u0000) characters."]})
        return attrs


class ThreadDocumentSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["analytics-chat-thread"])
    version = serializers.ChoiceField(choices=[1])
    messages = ExportedMessageSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]  # ListSerializer takes max_length

    def validate_messages(self, messages):
        seen: set = set()
        roots = 0
        for index, message in enumerate(messages):
            parent = message["parent_uuid"]
            if parent is None:
                roots += 1
            elif parent not in seen:
                raise serializers.ValidationError(
                    f"Message {index}: parent_uuid must name an earlier message of the thread."
                )
            seen.add(message["uuid"])
        if roots != 1:
            raise serializers.ValidationError("A thread has exactly one message without parent_uuid.")
        return messages


# --- sources: the start page and suggested questions -------------------------------------------------


class TableSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    row_count = serializers.IntegerField(allow_null=True)


class MetricSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a declared field (the metaclass takes it off the class)
    description = serializers.CharField(allow_blank=True)
    format = serializers.CharField()


class DimensionSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a declared field (the metaclass takes it off the class)
    description = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()


class SourceDetailSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    tables = TableSummarySerializer(many=True)
    metrics = MetricSummarySerializer(many=True)
    dimensions = DimensionSummarySerializer(many=True)


class SuggestionSerializer(serializers.Serializer):
    question = serializers.CharField()
    kind = serializers.ChoiceField(choices=["breakdown", "trend", "top", "filter"])
    sql = serializers.CharField(help_text="The checked SQL that answers it (it ran before it was shown).")
    row_count = serializers.IntegerField()
    semantic_query = serializers.DictField(allow_null=True)


class SuggestionsSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # a declared field (the metaclass takes it off the class)
    suggestions = SuggestionSerializer(many=True)


# --- an answer's SQL, edited and run again --------------------------------------------------------


class RerunSerializer(serializers.Serializer):
    sql = serializers.CharField(max_length=20_000, trim_whitespace=True)

    def validate_sql(self, value: str) -> str:
        if "\x00" in value:
            raise serializers.ValidationError("May not contain NUL (\\u0000) characters.")
        return value


# --- uploads -----------------------------------------------------------------------------------------


class UploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)


class PreviewColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()


class PreviewTableSerializer(serializers.Serializer):
    name = serializers.CharField()
    row_count = serializers.IntegerField(allow_null=True)
    columns = PreviewColumnSerializer(many=True)
    rows = serializers.ListField(child=serializers.ListField())


class UploadPreviewSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    filename = serializers.CharField(help_text="The sanitised name the file is kept under.")
    original_name = serializers.CharField()
    kind = serializers.CharField()
    size_bytes = serializers.IntegerField()
    suggested_name = serializers.CharField()
    tables = PreviewTableSerializer(many=True)


class ImportRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    streaming = serializers.BooleanField(required=False, default=False)
