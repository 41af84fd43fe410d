"""Saved prompt prefixes of a source go once its catalog or semantic layer changes, and only its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from analytics_chat.llm.files import forget_prefix_files, owner_tag, prefix_root
from catalog.models import Column, DataSource, Table
from semantic.models import Metric, SemanticStatement


def saved_prefix(owner: str, key: str = "0123abcd", model: str = "model-a") -> Path:
    """A file named as a generator names a saved prefix of ``owner``'s prompt."""
    folder = prefix_root() / model
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"2048-{key}{owner_tag(owner)}.kv"
    path.write_bytes(b"state")
    return path


@pytest.fixture
def sources(transactional_db):
    """Two sources. The tests commit for real: the files go in on-commit callbacks."""
    shop = DataSource.objects.create(name="shop", kind=DataSource.Kind.DUCKDB, path="/nonexistent/s.duckdb")
    zoo = DataSource.objects.create(name="zoo", kind=DataSource.Kind.DUCKDB, path="/nonexistent/z.duckdb")
    return shop, zoo


def test_owner_tags_keep_names_apart():
    assert owner_tag("") == ""
    assert owner_tag("shop") == ".shop"
    assert owner_tag("my shop/../x") == ".my_shop____x"


def test_forgetting_an_owner_removes_its_files_of_every_model_and_no_one_elses(settings, tmp_path):
    settings.LLM = {"PREFIX_DIR": tmp_path}
    own = [saved_prefix("shop", model="model-a"), saved_prefix("shop", key="ffff0000", model="model-b")]
    others = [saved_prefix("my_shop"), saved_prefix("shop2"), saved_prefix("")]
    assert forget_prefix_files("shop") == 2
    assert not any(path.exists() for path in own)
    assert all(path.exists() for path in others)
    assert forget_prefix_files("") == 0  # the shared head belongs to no source
    assert others[-1].exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda shop: Table.objects.create(source=shop, name="orders"),
        lambda shop: Column.objects.create(
            table=Table.objects.get_or_create(source=shop, name="orders")[0],
            name="amount",
            data_type="DECIMAL",
        ),
        lambda shop: Metric.objects.create(
            source=shop, name="revenue", expression="SUM(amount)", table="orders"
        ),
        lambda shop: shop.save(),
        lambda shop: shop.delete(),
    ],
    ids=["table added", "column added", "metric added", "source saved", "source deleted"],
)
def test_a_committed_change_forgets_that_sources_prefixes(settings, tmp_path, sources, change):
    settings.LLM = {"PREFIX_DIR": tmp_path}
    shop, _zoo = sources
    shop_file, zoo_file = saved_prefix("shop"), saved_prefix("zoo")
    with transaction.atomic():
        change(shop)
        assert shop_file.exists()  # nothing goes before the change is committed
    assert not shop_file.exists()
    assert zoo_file.exists()


def test_a_rolled_back_change_keeps_the_files(settings, tmp_path, sources):
    settings.LLM = {"PREFIX_DIR": tmp_path}
    shop, _zoo = sources
    shop_file = saved_prefix("shop")
    with pytest.raises(RuntimeError), transaction.atomic():
        Table.objects.create(source=shop, name="orders")
        raise RuntimeError("rolled back")
    assert shop_file.exists()
    Table.objects.create(source=shop, name="orders")  # the next committed change still forgets them
    assert not shop_file.exists()


def test_a_statement_for_every_source_forgets_them_all_once(settings, tmp_path, sources):
    settings.LLM = {"PREFIX_DIR": tmp_path}
    files = [saved_prefix("shop"), saved_prefix("zoo")]
    with transaction.atomic():
        for n in range(3):
            SemanticStatement.objects.create(source=None, name=f"rule_{n}", text="Revenue excludes refunds.")
        pending = [entry[1] for entry in transaction.get_connection().run_on_commit]
        # one pass per source, however many rows the transaction saved
        assert sorted(f.source_name for f in pending if hasattr(f, "source_name")) == ["shop", "zoo"]
    assert not any(path.exists() for path in files)
