"""Prompt-injection questions: the SQL a fooled model would write for each is refused by the guard.

The end-to-end run of the questions through the answer pipeline lives with the service tests.
"""

from __future__ import annotations

import pytest

from analytics_chat.management.commands.hostile import load_corpus
from catalog.guard import GuardError, check_sql

from .conftest import HERE, RESTRICTED_SCOPE, load_yaml

CORPUS = load_corpus(HERE / "injection_questions.txt")
HOSTILE_SQL = load_yaml("injection_sql.yaml")
# The first twenty questions of the corpus each have the SQL a fooled model might write for them.
QUESTIONS = CORPUS[: len(HOSTILE_SQL)]


def test_twenty_questions_each_with_its_hostile_sql() -> None:
    assert len(HOSTILE_SQL) == 20
    assert len(CORPUS) >= len(HOSTILE_SQL)
    assert len(set(CORPUS)) == len(CORPUS), "every question of the corpus is asked once"


@pytest.mark.parametrize(
    ("question", "item"), list(zip(QUESTIONS, HOSTILE_SQL, strict=True)), ids=[f"i{i:02d}" for i in range(20)]
)
def test_sql_a_fooled_model_would_write_is_refused(question: str, item: dict) -> None:
    with pytest.raises(GuardError) as refused:
        check_sql(item["sql"], allowed_tables=RESTRICTED_SCOPE)
    assert refused.value.code == item["code"], f"{question!r}: {refused.value}"
