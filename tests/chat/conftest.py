import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from analytics_chat.models import LLMModel
from catalog.models import DataSource, Table


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
