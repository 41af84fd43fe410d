"""Fixtures shared by the whole suite. Sub-folders keep their own fixtures in their own conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from django.db import transaction

from semantic.demo import DEMO_FILE_NAME, build_demo_database, load_demo
from tests.live import MODELS_DIR, LiveService, fresh_live_service

TEST_DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")


def test_model_path() -> Path | None:
    found = sorted(MODELS_DIR.glob("*0.5b*.gguf")) if MODELS_DIR.exists() else []
    return found[0] if found else None


@pytest.fixture(scope="session", autouse=True)
def _prefix_states_of_this_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefix states a model writes to disk go to a folder of this session: a file from an earlier run
    must not make a first read look reused."""
    from django.conf import settings

    settings.LLM = {**settings.LLM, "PREFIX_DIR": tmp_path_factory.mktemp("prefix_states")}


@pytest.fixture(scope="session")
def real_model_available() -> bool:
    """The 0.5B test model is on disk. In CI (AC_REQUIRE_MODEL=1) its absence fails instead of skipping."""
    if test_model_path() is not None:
        return True
    if os.environ.get("AC_REQUIRE_MODEL"):
        pytest.fail(f"the test model is missing from {MODELS_DIR}: run `make test-model`")
    pytest.skip("the 0.5B test model is not fetched (make test-model)")


@pytest.fixture(scope="session")
def live_service(real_model_available) -> LiveService:
    """uvicorn + a Celery worker on a fresh PostgreSQL database and the real Redis, demo data loaded,
    the real 0.5B model as the default. Tests that stop the worker must start it again."""
    with fresh_live_service(TEST_DATABASE_URL, TEST_REDIS_URL) as service:
        service.start_worker()
        yield service


@pytest.fixture
def worker(live_service: LiveService) -> LiveService:
    """The live service with its worker running (started again if an earlier test stopped it)."""
    process = live_service.processes.get("worker")
    if process is None or process.poll() is not None:
        live_service.start_worker()
    return live_service


# --- the demo data, for the semantic layer and the engine: one database per session, registered once per
# test module
@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("semantic_demo")
    build_demo_database(folder / DEMO_FILE_NAME)
    return folder


@pytest.fixture(scope="session")
def duck(demo_dir: Path):
    """A plain read-only DuckDB connection for hand-written reference SQL."""
    connection = duckdb.connect(str(demo_dir / DEMO_FILE_NAME), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def _registered_demo(django_db_setup, django_db_blocker, demo_dir):
    """Register the demo source once per module inside a transaction that is rolled back afterwards,
    so nothing leaks into other test modules; each test then runs in its own savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield load_demo(demo_dir)
        transaction.set_rollback(True)


@pytest.fixture
def demo_source(_registered_demo, db):
    return _registered_demo
