"""Schema linking on a real imported SQLite file and on a larger catalog built through the ORM."""

import pytest

from analytics_chat.engine.linking import link_schema, load_scope, match_values
from analytics_chat.engine.prompts import sql_messages, system_prompt
from analytics_chat.pipeline.state import Turn
from catalog.models import Column, DataSource, Relationship, Table
from catalog.text import name_words


def test_name_words_split_snake_and_camel_case():
    assert name_words("carMakers") == ["car", "maker"]
    assert name_words("car_makers") == ["car", "maker"]
    assert name_words("Song_release_year") == ["song", "release", "year"]
    assert name_words("Countries") == ["country"]


def test_value_in_question_is_matched_with_the_stored_spelling(shop):
    linked = link_schema("How many customers come from FRANCE?", shop, None, [])
    [match] = [m for m in linked.value_matches if m.column == "country"]
    assert (match.table, match.value, match.mention) == ("customers", "France", "FRANCE")
    assert (
        "customers.country = 'France'"
        in sql_messages("How many customers come from FRANCE?", linked)[1]["content"]
    )


def test_value_matching_needs_whole_words(shop):
    scope = load_scope(shop)
    assert not [
        m for m in match_values("Which products are spaint-free for a spaniard?", scope) if m.value == "Spain"
    ]
    assert [m.value for m in match_values("orders from customers in spain", scope)] == ["Spain"]


def test_small_schema_keeps_everything_with_join_keys(shop):
    linked = link_schema("total quantity per product title", shop, None, [])
    assert not linked.pruned
    assert {t.name for t in linked.tables} == {"customers", "products", "orders", "show"}
    assert {(j.from_table, j.to_table) for j in linked.joins} >= {
        ("orders", "customers"),
        ("orders", "products"),
    }


def test_scope_limits_the_tables(shop):
    linked = link_schema("How many customers are from Japan?", shop, ["orders"], [])
    assert [t.name for t in linked.tables] == ["orders"]
    assert linked.value_matches == []  # Japan lives in customers, which is out of scope
    assert "customers" not in system_prompt(linked.scope)


def test_disabled_tables_never_appear(shop):
    Table.objects.filter(source=shop, name="products").update(enabled=False)
    linked = link_schema("List product titles", shop, None, [])
    assert "products" not in {t.name for t in linked.scope.tables}
    assert "products" not in system_prompt(linked.scope)
    with pytest.raises(ValueError, match="products"):
        load_scope(shop, ["products"])


def test_unknown_scope_table_is_a_clear_error(shop):
    with pytest.raises(ValueError, match=r"nonsense.*available: customers"):
        load_scope(shop, ["nonsense"])


def test_disabled_source_is_refused(shop):
    shop.enabled = False
    shop.save()
    with pytest.raises(ValueError, match="disabled"):
        load_scope("shop")


@pytest.fixture
def warehouse(db):
    """Ten tables in a chain t0 - t1 - ... - t9 (each ``tN.prev_id`` references ``t(N-1).id``)."""
    source = DataSource.objects.create(name="warehouse", kind="duckdb", path="/nonexistent.duckdb")
    names = ["region", "country", "city", "store", "shelf", "bin", "item", "supplier", "invoice", "payment"]
    previous = None
    for index, name in enumerate(names):
        table = Table.objects.create(source=source, name=name)
        pk = Column.objects.create(table=table, name="id", ordinal=0, data_type="BIGINT", is_primary_key=True)
        Column.objects.create(table=table, name=f"{name}_label", ordinal=1, data_type="VARCHAR",
                              profile={"distinct_values": [f"{name.title()} One", f"{name.title()} Two"]})  # fmt: skip
        if previous is not None:
            fk = Column.objects.create(table=table, name="prev_id", ordinal=2, data_type="BIGINT")
            Relationship.objects.create(from_column=fk, to_column=previous)
        previous = pk
        assert index == len(source.tables.all()) - 1
    return source


def test_large_schema_is_pruned_but_keeps_the_join_path(warehouse):
    linked = link_schema("Which region has the most stores?", warehouse, None, [])
    assert linked.pruned
    assert [t.name for t in linked.tables] == ["city", "country", "region", "store"]  # the catalog's order
    assert {(j.from_table, j.to_table) for j in linked.joins} == {
        ("country", "region"),
        ("city", "country"),
        ("store", "city"),
    }
    user = sql_messages("Which region has the most stores?", linked)[1]["content"]
    assert user.startswith("Relevant tables: city, country, region, store")


def test_stored_value_links_its_table(warehouse):
    linked = link_schema("What is sold in Supplier Two?", warehouse, None, [])
    assert "supplier" in {t.name for t in linked.tables}
    assert [(m.table, m.value) for m in linked.value_matches] == [("supplier", "Supplier Two")]


def test_follow_up_keeps_the_tables_of_the_previous_query(warehouse):
    history = [Turn(ask="How many invoices are there?", sql="SELECT count(*) FROM invoice")]
    linked = link_schema("and by month?", warehouse, None, history)
    assert "invoice" in {t.name for t in linked.tables}


def test_empty_question_is_refused(shop):
    with pytest.raises(ValueError, match="empty"):
        link_schema("  ", shop, None, [])
