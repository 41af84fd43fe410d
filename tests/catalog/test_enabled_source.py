"""The one look-up of a source by name, used by the pipeline, the SQL path and schema linking."""

import pytest

from catalog.models import DataSource, UnknownSource, enabled_source


def test_a_source_is_found_by_name_and_a_disabled_or_missing_one_says_which(db, tmp_path):
    shop = DataSource.objects.create(name="shop", kind="duckdb", path=str(tmp_path / "shop.duckdb"))
    assert enabled_source("shop") == shop
    assert enabled_source(shop) is shop
    with pytest.raises(UnknownSource, match="data source 'nope' does not exist"):
        enabled_source("nope")
    shop.enabled = False
    shop.save()
    for asked in ("shop", shop):
        with pytest.raises(UnknownSource, match="data source 'shop' is disabled"):
            enabled_source(asked)
    assert issubclass(UnknownSource, ValueError)  # callers that refuse a bad scope catch ValueError
