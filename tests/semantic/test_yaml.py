"""The semantic layer as YAML: round trip, idempotent import, clear errors, the commands."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from semantic.models import Dimension, Metric, SemanticStatement
from semantic.yaml_io import SemanticImportError, dump_yaml, export_semantic, import_semantic


def _snapshot() -> list:
    return [
        sorted(
            (m.source.name, m.name, m.expression, m.filter, m.format, tuple(m.synonyms))
            for m in Metric.objects.all()
        ),
        sorted(
            (d.source.name, d.name, d.expression, d.kind, tuple(d.time_grains))
            for d in Dimension.objects.all()
        ),
        sorted(
            (s.name, s.text, s.scope, s.target, s.always_include, s.enabled)
            for s in SemanticStatement.objects.all()
        ),
    ]


def test_round_trip_and_idempotent(demo_source):
    SemanticStatement.objects.create(
        name="global_rule", text="Amounts are in US dollars.", always_include=True
    )
    exported = dump_yaml(export_semantic())
    before = _snapshot()
    Metric.objects.all().delete()
    Dimension.objects.all().delete()
    SemanticStatement.objects.all().delete()

    first = import_semantic(yaml.safe_load(exported))
    assert first["created"] == len(before[0]) + len(before[1]) + len(before[2])
    assert _snapshot() == before
    second = import_semantic(yaml.safe_load(exported))
    assert second == {"created": 0, "updated": 0, "unchanged": first["created"], "deleted": 0}
    assert _snapshot() == before
    assert dump_yaml(export_semantic()) == exported


def test_import_updates_by_name_and_prunes_on_request(demo_source):
    document = export_semantic("demo")
    revenue = next(m for m in document["sources"]["demo"]["metrics"] if m["name"] == "revenue")
    revenue["label"] = "Net revenue"
    document["sources"]["demo"]["metrics"] = [revenue]
    counts = import_semantic(document)
    assert counts["updated"] == 1 and counts["deleted"] == 0
    assert Metric.objects.get(name="revenue").label == "Net revenue"
    metric_count = Metric.objects.count()
    assert metric_count > 1
    counts = import_semantic(document, prune=True)
    assert counts["deleted"] == metric_count - 1
    assert list(Metric.objects.values_list("name", flat=True)) == ["revenue"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda m: m.update(format="money"), "metrics[0] (revenue): format"),
        (lambda m: m.update(colour="red"), "unknown field(s) colour"),
        (lambda m: m.update(table="invoices"), "'invoices' is not a table"),
        (lambda m: m.update(expression="SUM(("), "expression"),
        (lambda m: m.update(expression="order_items.quantity"), "must aggregate"),
        (lambda m: m.update(synonyms="sales"), "synonyms"),
        (lambda m: m.pop("name"), "'name' is required"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(demo_source, change, named):
    document = export_semantic("demo")
    metrics = document["sources"]["demo"]["metrics"]
    revenue = next(m for m in metrics if m["name"] == "revenue")
    metrics.remove(revenue)
    metrics.insert(0, revenue)
    metrics[1]["label"] = "changed"
    change(revenue)
    with pytest.raises(SemanticImportError) as error:
        import_semantic(document)
    assert named in str(error.value)
    assert not Metric.objects.filter(label="changed").exists()  # all or nothing


def test_unknown_source_and_top_level_keys(demo_source):
    with pytest.raises(SemanticImportError, match="nowhere"):
        import_semantic({"version": 1, "sources": {"nowhere": {"metrics": []}}})
    with pytest.raises(SemanticImportError, match="metric"):
        import_semantic({"version": 1, "metric": []})
    with pytest.raises(SemanticImportError, match="version"):
        import_semantic({"version": 7, "sources": {}})


def test_commands(demo_source, tmp_path):
    out = tmp_path / "semantic.yaml"
    call_command("export_semantic", "--source", "demo", "--out", str(out), stderr=io.StringIO())
    assert "revenue" in out.read_text()
    Metric.objects.filter(name="revenue").delete()
    stdout = io.StringIO()
    call_command("import_semantic", str(out), stdout=stdout)
    assert "1 created" in stdout.getvalue()
    assert Metric.objects.filter(name="revenue").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nsources:\n  demo:\n    metrics:\n      - {name: x, table: orders}\n")
    with pytest.raises(CommandError, match="expression"):
        call_command("import_semantic", str(broken))
    with pytest.raises(CommandError, match="not found"):
        call_command("import_semantic", str(tmp_path / "missing.yaml"))
    printed = io.StringIO()
    call_command("export_semantic", stdout=printed)
    assert yaml.safe_load(printed.getvalue())["sources"]["demo"]["metrics"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda m: m.update(name="Net Revenue"), "metrics[0] (Net Revenue): name: Use lower-case letters"),
        (lambda m: m.update(label="x" * 201), "metrics[0] (revenue): label: Ensure this field has no more"),
        (lambda m: m.update(expression=""), "metrics[0] (revenue): expression: This field may not be blank"),
        (lambda m: m.update(format=None), "metrics[0] (revenue): format: This field may not be null"),
        (lambda m: m.update(synonyms=["sales", 3]), "metrics[0] (revenue): synonyms: Must be a list"),
    ],
)
def test_each_row_is_validated_by_its_serializer_and_errors_name_the_field(demo_source, change, named):
    document = export_semantic("demo")
    metrics = document["sources"]["demo"]["metrics"]
    revenue = next(m for m in metrics if m["name"] == "revenue")
    document["sources"]["demo"]["metrics"] = [revenue]
    change(revenue)
    with pytest.raises(SemanticImportError) as error:
        import_semantic(document)
    assert named in str(error.value)


def test_text_is_kept_as_the_file_writes_it(demo_source):
    text = "  Revenue is net of refunds.\n  Amounts are in US dollars.\n"
    document = {"version": 1, "statements": [{"name": "money_rule", "text": text, "labels": ["money"]}]}
    assert import_semantic(document)["created"] == 1
    assert SemanticStatement.objects.get(name="money_rule").text == text  # not stripped
    assert import_semantic(document)["unchanged"] == 1
    with pytest.raises(SemanticImportError, match=r"statements\[0\] \(money_rule\): scope: "):
        import_semantic({"version": 1, "statements": [{"name": "money_rule", "text": text, "scope": "x"}]})
