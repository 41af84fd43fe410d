"""Shared constants and types for the web tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings

REPO = Path(django_settings.BASE_DIR)
# The Python client is its own package (clients/python); test it from the source tree.
if str(REPO / "clients" / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "clients" / "python"))
CHROMIUM = os.environ.get("AC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class ChatSite:
    base_url: str
    username: str
    password: str
    token: str | None
    kind: str  # "stub" or "live"
    # Models to ask with (None: the server's default). On the live service these are scripted stand-ins
    # (tests/web/conftest.py): fast and deterministic, and one slow enough to stop mid-answer.
    model: str | None = None
    slow_model: str | None = None
    # Questions the tests ask: one that draws a chart, one that runs long enough to stop.
    chart_question: str = "Plot the monthly revenue of 2025 as a line chart"
    long_question: str = "List every customer with their total order amount, slowly, sorted by amount"
    follow_up: str = "Now only for the last three months"


def sign_in(page, site: ChatSite) -> None:
    """Through the login form to the chat page, with sources, models and threads loaded."""
    page.goto(f"{site.base_url}/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", site.username)
    page.fill("#id_password", site.password)
    page.click("button[type=submit]")
    page.wait_for_selector("#chat-app[data-ready=true]", timeout=15_000)
