"""``manage.py hostile`` on a slice of the corpus, through the live service's API with the real 0.5B model."""

from __future__ import annotations

import pytest

from analytics_chat.management.commands.hostile import CORPUS, load_corpus
from tests.live import LiveService

pytestmark = [pytest.mark.live, pytest.mark.model]


def test_corpus_covers_the_kinds_of_hostile_input():
    questions = load_corpus(CORPUS)
    assert len(questions) >= 60
    assert max(len(q) for q in questions) >= 10_000
    assert any(not q.isascii() for q in questions)


@pytest.mark.timeout(900)
def test_hostile_command_reports_every_question_terminal(worker: LiveService):
    # Questions 21-23 (file function, network function, SQL-looking) and an abort on the third.
    slice_file = worker.data_dir / "hostile-slice.txt"
    slice_file.write_text("\n".join(load_corpus(CORPUS)[20:23]), encoding="utf-8")
    result = worker.manage(
        "hostile", "--url", worker.base_url, "--token", worker.token, "--corpus", str(slice_file),
        "--abort-every", "3", "--abort-after", "1", "--data-dir", str(worker.data_dir), check=False,
    )  # fmt: skip
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert "3 hostile questions" in result.stdout
    assert "aborts honoured within 1 s" in result.stdout
    assert "data files changed" in result.stdout
