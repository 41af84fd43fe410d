"""URLconf for browser tests against the stub API: the real page and login, the stand-in API."""

from django.urls import include, path

from analytics_chat.web import chat_page
from tests.web import web_stub_api

urlpatterns = [
    path("", chat_page, name="chat"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include(web_stub_api.urlpatterns)),
]
