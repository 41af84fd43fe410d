"""Fixtures for the web tests: a chat site (the in-process stub API, or the real `live_service` with
scripted models) and a headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.live import LiveService, scripted_model_code
from tests.web import web_stub_api
from tests.web.support import CHROMIUM, CHROMIUM_ARGS, ChatSite, sign_in

# Scripted stand-ins for the live service: canned SQL by question, so the page, the clients and the
# examples are tested on the real service quickly and deterministically. Rules match the user message
# of the prompt; the first match wins, so the narrower follow-up rule comes first.
REVENUE = "SUM(oi.quantity * oi.unit_price * (1 - oi.discount))"
MONTHLY_REVENUE = (
    f"SELECT DATE_TRUNC('month', o.order_date) AS month, {REVENUE} AS revenue "
    "FROM orders AS o JOIN order_items AS oi ON oi.order_id = o.order_id "
    "WHERE o.status = 'completed' AND EXTRACT(YEAR FROM o.order_date) = 2025{extra} "
    "GROUP BY 1 ORDER BY 1"
)
WEB_SCRIPT = {
    "rules": [
        {
            "match": r"(?i)question: .*last three months",
            "response": MONTHLY_REVENUE.format(extra=" AND EXTRACT(MONTH FROM o.order_date) >= 10"),
        },
        {"match": r"(?i)question: .*(monthly|per month)", "response": MONTHLY_REVENUE.format(extra="")},
        {
            "match": r"(?i)question: .*customers spent",
            "response": f"SELECT c.name, {REVENUE} AS spent FROM customers AS c "
            "JOIN orders AS o ON o.customer_id = c.customer_id JOIN order_items AS oi ON oi.order_id = o.order_id "
            "WHERE o.status = 'completed' GROUP BY c.name ORDER BY spent DESC LIMIT 5",
        },
    ],
    "default": "SELECT COUNT(*) AS orders FROM orders",
    "token_delay_ms": 5,
}
SCRIPTED_MODEL = "web-scripted"
# ~200 tokens at 250 ms each: close to a minute of writing, long enough to stop on purpose.
SLOW_MODEL = "web-slow"
SLOW_SCRIPT = {"default": " ".join(["SELECT"] + ["1 +"] * 200 + ["1 AS n"]), "token_delay_ms": 250}


@pytest.fixture(scope="session")
def live_site(live_service: LiveService) -> ChatSite:
    """The real service (tests/conftest.py) with this folder's scripted models registered."""
    live_service.shell(scripted_model_code(SCRIPTED_MODEL, WEB_SCRIPT))
    live_service.shell(scripted_model_code(SLOW_MODEL, SLOW_SCRIPT))
    return ChatSite(
        live_service.base_url.rstrip("/"),
        live_service.username,
        live_service.password,
        live_service.token,
        "live",
        model=SCRIPTED_MODEL,
        slow_model=SLOW_MODEL,
    )


@pytest.fixture
def page_settings(settings):
    """The page's static files and login URLs come from settings.py; live_server is plain http."""
    # live_server is plain http on localhost.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return settings


@pytest.fixture
def stub_site(transactional_db, live_server, page_settings, django_user_model) -> Iterator[ChatSite]:
    """The real page and login against the in-memory stub API (tests/web/web_stub_api.py)."""
    page_settings.ROOT_URLCONF = "tests.web.web_stub_urls"
    web_stub_api.reset()
    user = django_user_model.objects.create_user("ada", password="correct-horse-battery")
    token = Token.objects.create(user=user)
    yield ChatSite(live_server.url, "ada", "correct-horse-battery", token.key, "stub")
    web_stub_api.reset()


@pytest.fixture(
    params=[
        # Transactional: the live_server thread must see the user this test creates.
        pytest.param("stub", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("live", marks=pytest.mark.live),
    ]
)
def chat_site(request) -> ChatSite:
    if request.param == "stub":
        return request.getfixturevalue("stub_site")
    request.getfixturevalue("worker")  # started again if another folder's test stopped it
    return request.getfixturevalue("live_site")


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module: Playwright's sync API keeps an event loop running in this thread
    while it lives, which makes Django's ORM refuse to run unless told it is safe; the module scope
    keeps that permission away from other folders' tests."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture
def signed_in_page(page, chat_site):
    """The chat page, signed in through the login form, with sources and threads loaded."""
    sign_in(page, chat_site)
    return page
