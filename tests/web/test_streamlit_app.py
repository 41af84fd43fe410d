"""examples/streamlit_app.py under Streamlit's AppTest, talking over HTTP to the stub API and to the
real service (`live`, with a scripted model named in the sidebar)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.web.support import REPO

APP = REPO / "examples" / "streamlit_app.py"
ANSWER_TIMEOUT_S = 300


def test_streamlit_app_renders_data_sql_and_chart(chat_site, page_settings):
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception
    app.sidebar.text_input(key="base_url").set_value(chat_site.base_url)
    app.sidebar.text_input(key="token").set_value(chat_site.token)
    if chat_site.model:
        app.sidebar.text_input(key="model").set_value(chat_site.model)
    app.run()

    app.chat_input[0].set_value(chat_site.chart_question).run(timeout=ANSWER_TIMEOUT_S)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    session = app.session_state["session"]
    answer = session.history[-1]
    assert answer.ok, answer.error_info
    if chat_site.model:
        assert answer.raw["model"] == chat_site.model

    charts = app.get("vega_lite_chart")
    if "{chart_spec}" in answer.response:
        assert len(charts) == 1
        chart = charts[0].proto
        assert json.loads(chart.spec)["mark"] == answer.chart_spec["mark"]
        assert chart.data.data or chart.datasets, "the chart's inline rows reached Streamlit"
    if "{data}" in answer.response:
        frame = app.dataframe[0].value
        assert list(frame.columns) == answer.data.columns
        assert len(frame) == len(answer.data.rows)
    if "{sql}" in answer.response:
        assert any(code.value == answer.sql for code in app.code)
    if chat_site.kind == "stub":
        assert len(charts) == 1 and len(app.dataframe) == 1 and len(app.code) == 1
    else:  # the service's composer chose a chart and a table for this question
        assert len(charts) == 1 and len(app.dataframe) == 1
        mark = json.loads(charts[0].proto.spec)["mark"]
        assert (mark["type"] if isinstance(mark, dict) else mark) == "line"

    # A follow-up stays in the thread; the first answer is still shown.
    app.chat_input[0].set_value(chat_site.follow_up).run(timeout=ANSWER_TIMEOUT_S)
    assert not app.exception
    assert session.history[-1].parent_uuid == answer.response_uuid
    assert len(app.chat_message) == 4


def test_streamlit_app_reports_a_bad_token(stub_site):
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    app.sidebar.text_input(key="base_url").set_value(stub_site.base_url)
    app.sidebar.text_input(key="token").set_value("not-a-token")
    app.run()
    app.chat_input[0].set_value("anything").run()
    assert not app.exception
    assert "401" in app.error[0].value and "Invalid token" in app.error[0].value


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
