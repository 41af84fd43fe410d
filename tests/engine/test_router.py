"""Routing: catalog and definition questions are told apart from data questions by their form."""

import pytest

from analytics_chat.engine.router import route_question
from analytics_chat.pipeline import state as S


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("Is there a table with supplier details? What fields are in it?", S.CATALOG),
        ("Which columns does the invoices table have?", S.CATALOG),
        ("what kind of info do you keep on vendors?", S.CATALOG),
        ("What tables can I ask about?", S.CATALOG),
        ("When you say churn, which accounts go into it?", S.DEFINITION),
        ("Is the fill rate computed on lines or on units? How exactly is it defined?", S.DEFINITION),
        ("How is net profit calculated?", S.DEFINITION),
        ("What's your definition of an active user?", S.DEFINITION),
        ("Show me a table of invoices per month.", S.DATA),
        ("How many suppliers are in Spain?", S.DATA),
        ("What share of invoices were paid late?", S.DATA),
    ],
)
def test_questions_are_routed_by_their_form(question, intent):
    assert route_question(question).intent == intent
