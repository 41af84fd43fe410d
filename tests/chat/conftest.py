import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from analytics_chat.models import LLMModel
from catalog.models import DataSource, Table
from tests.live import EmbeddedServe, scripted_model_code

# The scripted stand-in model of the embedded-mode tests.
EMBEDDED_SCRIPT = {
    "rules": [
        {"match": r"(?i)question: how many orders", "response": "SELECT COUNT(*) AS orders FROM orders"},
        {"match": r"(?i)question: .*slowly", "response": " ".join(["SELECT"] + ["1 +"] * 300 + ["1 AS n"])},
    ],
    "default": "SELECT 1 AS one",
    "token_delay_ms": 30,
}


@pytest.fixture
def demo_catalog(db):
    """A minimal catalog entry named like the demo source (no file needed for validation tests)."""
    source = DataSource.objects.create(
        name="demo", kind=DataSource.Kind.DUCKDB, path="/nonexistent/demo.duckdb"
    )
    for name in ("orders", "customers"):
        Table.objects.create(source=source, name=name)
    other = DataSource.objects.create(
        name="secret", kind=DataSource.Kind.DUCKDB, path="/nonexistent/secret.duckdb"
    )
    Table.objects.create(source=other, name="salaries")
    LLMModel.objects.create(
        name="tiny", backend="scripted", path="/nonexistent.json", context_size=2048, is_default=True
    )
    return source


@pytest.fixture
def api(db, demo_catalog):
    user = get_user_model().objects.create_user("carol", password="pw")
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory) -> tuple[Path, str]:
    """A data folder as ``make run`` leaves it after ``bootstrap`` (SQLite, demo data, an admin user), with
    the scripted model as the default; and the admin's API token. Copy it with ``embedded_folder``."""
    folder = tmp_path_factory.mktemp("embedded-template")
    serve = EmbeddedServe(folder)
    done = serve.manage("bootstrap")
    assert done.returncode == 0, done.stdout + done.stderr
    token = re.search(r"API token:\s+(\w+)", done.stdout).group(1)
    assert re.search(r"Password:\s+\S+", done.stdout)
    done = serve.manage("shell", "-c", scripted_model_code("scripted", EMBEDDED_SCRIPT, default=True))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, token
