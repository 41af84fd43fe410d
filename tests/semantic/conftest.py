"""Fixtures for the semantic tests: one demo database per session, registered once per test module."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from django.db import transaction

from semantic.demo import DEMO_FILE_NAME, build_demo_database, load_demo


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
