"""Fixtures for the web tests: a chat site (the stub API now, the lead's `live_service` later) and a
headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.web import web_stub_api
from tests.web.support import CHROMIUM, CHROMIUM_ARGS, PAGE_STATICFILES_DIRS, ChatSite


@pytest.fixture
def page_settings(settings):
    """Settings the page needs, whatever the lead's settings.py holds today."""
    settings.STATICFILES_DIRS = PAGE_STATICFILES_DIRS
    settings.LOGIN_URL = "/accounts/login/"
    settings.LOGIN_REDIRECT_URL = "/"
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
    try:
        service = request.getfixturevalue("live_service")
    except pytest.FixtureLookupError:
        pytest.skip("the live_service fixture (tests/conftest.py) is not there yet")
    return ChatSite(service.base_url.rstrip("/"), service.username, service.password, service.token, "live")


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
    page.goto(f"{chat_site.base_url}/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", chat_site.username)
    page.fill("#id_password", chat_site.password)
    page.click("button[type=submit]")
    page.wait_for_selector("#chat-app[data-ready=true]", timeout=15_000)
    return page
