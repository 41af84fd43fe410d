"""The chat page at ``/``: a Django template that drives the REST API from the browser."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie  # the page's fetch() calls send this cookie back as X-CSRFToken
def chat_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "chat/index.html",
        {
            "default_scope": settings.CHAT["DEFAULT_SOURCE"],
            "max_ask_chars": settings.CHAT["MAX_ASK_CHARS"],
            # Staff who may add sources get the upload panel on the start page.
            "can_upload": request.user.is_staff and request.user.has_perm("catalog.add_datasource"),
            "upload_max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
            "add_source_url": _admin_url("admin:catalog_datasource_add"),
        },
    )


def _admin_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:  # a site without the admin
        return ""
