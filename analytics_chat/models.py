"""Chat messages (a tree of turns linked by parent_uuid) and the registry of local models."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class LLMModel(models.Model):
    """A GGUF model the workers can load. The request's ``model`` names one of these."""

    class Backend(models.TextChoices):
        LLAMA_CPP = "llama_cpp", "llama.cpp (GGUF file)"
        # A deterministic stand-in that answers from a JSON script; for fast tests and load tests.
        SCRIPTED = "scripted", "Scripted stand-in (tests)"

    name = models.SlugField(max_length=100, unique=True)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LLAMA_CPP)
    path = models.CharField(max_length=1024, help_text="GGUF file (or the script file of a scripted model).")
    chat_format = models.CharField(max_length=50, default="chatml")
    context_size = models.PositiveIntegerField(default=4096)
    threads = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: one per core.")
    batch_size = models.PositiveIntegerField(default=256)
    default_options = models.JSONField(
        default=dict, blank=True, help_text="Generation options used unless a request sets them."
    )
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM model"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_model"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ChatMessage(models.Model):
    """One turn: the question, and the answer the pipeline wrote for it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ABORTED = "aborted"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)
    TERMINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.ABORTED)

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_column="parent_uuid",
    )
    # The first message of the thread (itself for a root): one indexed lookup fetches a whole thread.
    root_uuid = models.UUIDField(db_index=True, editable=False)
    depth = models.PositiveIntegerField(default=0, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )

    ask = models.TextField()
    scope = models.CharField(max_length=300, blank=True)
    tags = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=100, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="The request's generation options.")
    saved = models.BooleanField(
        default=True, help_text="False: answered but kept out of threads and history."
    )
    recall = models.BooleanField(default=True)
    streaming = models.BooleanField(default=False)

    response = models.TextField(blank=True)
    response_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    current_stage = models.CharField(max_length=32, blank=True)
    error_info = models.JSONField(null=True, blank=True)
    is_new = models.BooleanField(default=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    stage_timings = models.JSONField(default=dict, blank=True, help_text="Milliseconds per pipeline stage.")
    # How the answer was reached: intent, path, semantic query, SQL drafts and their errors.
    plan = models.JSONField(default=dict, blank=True)
    liked = models.BooleanField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["owner", "parent", "-created_at"], name="chat_owner_roots"),
            models.Index(fields=["root_uuid", "depth"], name="chat_thread_walk"),
            models.Index(fields=["status", "created_at"], name="chat_status_age"),
        ]

    def __str__(self) -> str:
        return f"{self.uuid} {self.ask[:40]!r} ({self.status})"

    def save(self, *args, **kwargs):
        if self.root_uuid is None:
            if self.parent_id is None:
                self.root_uuid = self.uuid
                self.depth = 0
            else:
                parent = self.parent
                self.root_uuid = parent.root_uuid
                self.depth = parent.depth + 1
        super().save(*args, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    @property
    def elapsed_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return int((self.finished_at - self.created_at).total_seconds() * 1000)

    def ancestors(self) -> list[ChatMessage]:
        """Root to this message, in order, from one query on the thread index."""
        thread = {
            m.uuid: m
            for m in ChatMessage.objects.filter(root_uuid=self.root_uuid, depth__lte=self.depth).order_by(
                "depth"
            )
        }
        chain: list[ChatMessage] = []
        node: ChatMessage | None = self
        while node is not None:
            chain.append(node)
            node = thread.get(node.parent_id) if node.parent_id else None
        chain.reverse()
        return chain


class UserScope(models.Model):
    """What one user may query. Without a row, a user may query every enabled source."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_scope")
    allowed = models.JSONField(
        default=list,
        blank=True,
        help_text='Sources or tables this user may query, e.g. ["demo"] or ["demo.orders", "demo.customers"].',
    )
    default_scope = models.CharField(
        max_length=300, blank=True, help_text="Used when a request names no scope."
    )

    def __str__(self) -> str:
        return f"{self.user}: {', '.join(self.allowed) or 'nothing'}"
