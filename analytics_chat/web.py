"""The chat page at ``/``: a Django template that drives the REST API from the browser."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie  # the page's fetch() calls send this cookie back as X-CSRFToken
def chat_page(request: HttpRequest) -> HttpResponse:
    chat_settings = getattr(settings, "CHAT", {})
    return render(
        request,
        "chat/index.html",
        {
            "default_scope": chat_settings.get("DEFAULT_SOURCE", "demo"),
            "max_ask_chars": chat_settings.get("MAX_ASK_CHARS", 2000),
        },
    )
