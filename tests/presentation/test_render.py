"""Server-side SVG/PNG rendering and CSV export."""

from __future__ import annotations

import csv
import io
import struct

import pytest

from analytics_chat.presentation.charts import build_chart_spec, choose_chart
from analytics_chat.presentation.render import data_to_csv, render_png, render_svg

DATA = {
    "columns": ["channel", "orders"],
    "types": ["VARCHAR", "BIGINT"],
    "rows": [["web", 120], ["mobile", 80], ["store", 40]],
    "row_count": 3,
    "truncated": False,
}


@pytest.fixture(scope="module")
def spec():
    return build_chart_spec(choose_chart("chart orders by channel", DATA), DATA, title="Orders by channel")


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_svg_shows_the_bars_and_their_labels(spec):
    svg = render_svg(spec)
    assert svg.lstrip().startswith("<svg")
    for text in ("Orders by channel", "web", "mobile", "store", "Channel"):
        assert text in svg


def test_png_scales(spec):
    width, height = _png_size(render_png(spec))
    width2, height2 = _png_size(render_png(spec, scale=2))
    assert width > 100 and height > 100
    assert (width2, height2) == (2 * width, 2 * height)


def test_container_width_is_given_a_server_width_without_touching_the_spec(spec):
    assert spec["width"] == "container"
    render_svg(spec)
    assert spec["width"] == "container"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "non-empty Vega-Lite JSON object"),
        ({}, "non-empty Vega-Lite JSON object"),
        ({"$schema": "https://vega.github.io/schema/vega/v5.json", "marks": []}, "not Vega-Lite"),
        ({"mark": "bar", "encoding": {"x": {"field": "a", "type": "nonsense"}}}, "does not render"),
    ],
)
def test_bad_specs_get_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        render_svg(bad)


def test_png_scale_is_checked(spec):
    with pytest.raises(ValueError, match="scale must be"):
        render_png(spec, scale=0)


def test_csv_round_trips_with_quoting_and_nulls():
    data = {
        "columns": ["name", "note", "amount", "day"],
        "types": ["VARCHAR", "VARCHAR", "DOUBLE", "DATE"],
        "rows": [['Acme, "Inc"', "line\nbreak", 1234.5, "2024-01-31"], ["Globex", None, None, None]],
        "row_count": 2,
        "truncated": False,
    }
    text = data_to_csv(data)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == data["columns"]
    assert parsed[1] == ['Acme, "Inc"', "line\nbreak", "1234.5", "2024-01-31"]
    assert parsed[2] == ["Globex", "", "", ""]


def test_csv_of_an_empty_result_is_its_header():
    assert data_to_csv({"columns": ["a", "b"], "types": ["INTEGER", "INTEGER"], "rows": []}).strip() == "a,b"


def test_csv_rejects_malformed_results():
    with pytest.raises(ValueError, match="row 0 has 1 values, expected 2"):
        data_to_csv({"columns": ["a", "b"], "rows": [[1]]})
    with pytest.raises(ValueError, match="'columns' and 'rows'"):
        data_to_csv({"rows": []})
