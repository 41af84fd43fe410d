"""The evaluate command: the pipeline answers, the scoring judges, the report says so."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics_chat.llm import registry
from analytics_chat.models import LLMModel
from semantic.demo import load_demo

pytestmark = pytest.mark.django_db

QUESTIONS = [
    # answered right, through the SQL path (the script answers the semantic prompt with SQL, which is refused)
    {"id": "q1", "question": "How many sales reps are there?", "gold_sql": "SELECT COUNT(*) FROM sales_reps"},
    # refused: the scripted SQL counts the wrong table, which the plan check catches (an honest wrong answer)
    {"id": "q2", "question": "How many products are there?", "gold_sql": "SELECT COUNT(*) FROM products"},
    # a follow-up in q1's thread, answered right with an extra column
    {"id": "q3", "parent": "q1", "question": "Split that by region.",
     "gold_sql": "SELECT region, COUNT(*) FROM sales_reps GROUP BY region"},
    # not a query: right when the response carries the catalog
    {"id": "q4", "question": "Which tables and data can I query?", "gold_sql": None, "expects": ["catalog"]},
    # answered wrong, silently: the scripted SQL counts orders, but only the web ones
    {"id": "q5", "question": "How many orders are there?", "gold_sql": "SELECT COUNT(*) FROM orders"},
]  # fmt: skip
SCRIPT = {
    "rules": [
        {"match": r"(?s)Previous question: How many sales reps.*Question: Split", "response":
         "SELECT sales_reps.region, COUNT(*) AS reps, MIN(sales_reps.rep_id) AS first_rep FROM sales_reps GROUP BY sales_reps.region"},
        {"match": r"Question: How many sales reps", "response": "SELECT COUNT(*) AS reps FROM sales_reps"},
        {"match": r"Question: How many products", "response": "SELECT COUNT(*) AS products FROM customers"},
        {"match": r"Question: How many orders", "response": "SELECT COUNT(*) FROM orders WHERE orders.channel = 'web'"},
    ],
    "default": "SELECT 1",
    "token_delay_ms": 0,
}  # fmt: skip


@pytest.fixture
def scripted_demo(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    load_demo(tmp_path)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    LLMModel.objects.create(name="scripted-eval", backend="scripted", path=str(script))
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    yield questions
    registry.unload()


def test_evaluate_scores_each_answer_and_writes_a_report(scripted_demo, tmp_path):
    out = tmp_path / "report.json"
    printed = StringIO()
    call_command(
        "evaluate", questions=scripted_demo, source="demo", model="scripted-eval", out=out, stdout=printed
    )
    report = json.loads(out.read_text())
    verdicts = {q["id"]: q["verdict"] for q in report["questions"]}
    assert verdicts == {
        "q1": "correct",
        "q2": "refused",
        "q3": "correct",
        "q4": "correct",
        "q5": "wrong_result",
    }
    assert report["summary"]["accuracy"] == pytest.approx(0.6)
    assert (report["summary"]["silent_wrong"], report["summary"]["refused_wrongly"]) == (1, 1)
    assert report["summary"]["latency_p50_ms"] is not None
    text = printed.getvalue()
    assert "execution accuracy" in text and "60.0% (3/5)" in text
    assert "q2" in text  # listed among the questions not answered right


def test_baseline_mode_uses_one_plain_prompt(scripted_demo, tmp_path):
    out = tmp_path / "baseline.json"
    call_command("evaluate", questions=scripted_demo, source="demo", model="scripted-eval", out=out, baseline=True,
                 ids="q1,q2", stdout=StringIO())  # fmt: skip
    report = json.loads(out.read_text())
    assert report["baseline"] is True
    assert [q["path"] for q in report["questions"]] == ["baseline", "baseline"]
    assert [q["verdict"] for q in report["questions"]] == ["correct", "wrong_result"]


def test_floor_mode_needs_a_model_that_can_replay_and_reports_no_accuracy(scripted_demo, tmp_path):
    out = tmp_path / "floor.json"
    printed = StringIO()
    call_command("evaluate", questions=scripted_demo, source="demo", model="scripted-eval", out=out, floor=True,
                 ids="q1", stdout=printed)  # fmt: skip
    report = json.loads(out.read_text())
    assert report["floor"] is True
    [answer] = report["questions"]
    assert answer["verdict"] == "failed" and "llama.cpp" in answer["error"]
    assert "execution accuracy" not in printed.getvalue()


def test_evaluate_refuses_baseline_and_floor_together(scripted_demo):
    with pytest.raises(CommandError):
        call_command("evaluate", "--baseline", "--floor", questions=scripted_demo, source="demo",
                     model="scripted-eval", stdout=StringIO())  # fmt: skip


def test_benchmark_reports_both_approaches(scripted_demo, tmp_path):
    out = tmp_path / "bench.json"
    printed = StringIO()
    call_command("benchmark", source="demo", model="scripted-eval", limit=3, out=out, stdout=printed)
    report = json.loads(out.read_text())
    assert len(report["runs"]["pipeline"]) == 3 and len(report["runs"]["baseline"]) == 3
    assert report["peak_rss_gib"] > 0
    assert "end-to-end p50" in printed.getvalue() and "peak RSS" in printed.getvalue()
