"""Chat with the Analytics Chat service from Streamlit.

    pip install streamlit ./clients/python
    AC_BASE_URL=http://127.0.0.1:8000 AC_TOKEN=<your token> streamlit run examples/streamlit_app.py

AC_SCOPE and AC_MODEL (empty: the server's default model) preset the sidebar's other fields.

{data} is shown as a dataframe, {sql} as code, {chart_spec} with st.vega_lite_chart.
"""

from __future__ import annotations

import os
import re

import pandas as pd
import streamlit as st
from analytics_chat_client import ChatAPIError, ChatResponse, Client

PLACEHOLDER = re.compile(r"(\{(?:data|sql|chart_spec|semantic_context|catalog)\})")
STAGE_LABELS = {
    "route": "Understanding the question",
    "context": "Finding the data",
    "sql": "Writing SQL",
    "execute": "Running the query",
    "chart": "Drawing the chart",
    "compose": "Writing the answer",
}


def render(response: ChatResponse) -> None:
    """The answer's template, each placeholder shown with the matching Streamlit element."""
    if not response.ok:
        info = response.error_info or {}
        st.error(f"{response.status}: {info.get('message', 'no answer')}")
        if info.get("invalid_sql"):
            st.code(info["invalid_sql"], language="sql")
        return
    for piece in PLACEHOLDER.split(response.response):
        if piece == "{data}" and response.data:
            data = response.data
            st.dataframe(pd.DataFrame(data.rows, columns=data.columns), hide_index=True)
            if data.truncated:
                st.caption(f"{len(data.rows)} of {data.row_count} rows shown")
        elif piece == "{sql}" and response.sql:
            st.code(response.sql, language="sql")
        elif piece == "{chart_spec}" and response.chart_spec:
            st.vega_lite_chart(response.chart_spec, width="stretch")
        elif piece in {"{semantic_context}", "{catalog}"}:
            value = response.response_data.get(piece.strip("{}"))
            if value:
                st.json(value, expanded=False)
        elif piece.strip() and not PLACEHOLDER.fullmatch(piece):
            st.markdown(piece.strip())


def chat_session(base_url: str, token: str, scope: str, model: str):
    """One session per (server, token, scope, model) kept across reruns; changing any of them starts anew."""
    key = (base_url, token, scope, model)
    if st.session_state.get("session_key") != key:
        st.session_state.session_key = key
        st.session_state.session = Client(base_url, token or None).chat(
            scope=scope or None, model=model or None
        )
    return st.session_state.session


st.set_page_config(page_title="Analytics Chat", page_icon="📊")
st.title("Analytics Chat")

with st.sidebar:
    base_url = st.text_input("Server", os.environ.get("AC_BASE_URL", "http://127.0.0.1:8000"), key="base_url")
    token = st.text_input("API token", os.environ.get("AC_TOKEN", ""), type="password", key="token")
    scope = st.text_input("Scope", os.environ.get("AC_SCOPE", "demo"), key="scope")
    model = st.text_input("Model", os.environ.get("AC_MODEL", ""), key="model", placeholder="server default")
    new_chat = st.button("New chat", key="new_chat")

session = chat_session(base_url, token, scope, model)
if new_chat:
    session.clear()

for past in session.history:
    with st.chat_message("user"):
        st.markdown(past.ask)
    with st.chat_message("assistant"):
        render(past)

if question := st.chat_input("Ask about your data"):
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        progress = st.status("Working…", expanded=False)
        streamed = st.empty()
        text = ""
        try:
            for event in session.stream(question):
                if event.event == "stage" and event.data.get("state") == "started":
                    progress.update(label=STAGE_LABELS.get(event.data["stage"], event.data["stage"]))
                elif event.event == "delta":
                    text += event.data.get("text", "")
                    streamed.code(text)
            progress.update(label="Done", state="complete")
            streamed.empty()
            render(session.history[-1])
        except ChatAPIError as error:
            progress.update(label="Failed", state="error")
            st.error(str(error))
