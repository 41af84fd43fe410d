"""Execution accuracy and latency of the answer pipeline on a question set."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analytics_chat.engine.evaluation import (
    Outcome,
    ensure_sources,
    evaluate,
    load_questions,
    report_document,
    summary,
)
from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
from analytics_chat.llm.registry import get_generator


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


class Command(BaseCommand):
    help = "Ask every question of a JSONL set through the answer pipeline; report accuracy and latency."

    def add_arguments(self, parser):
        parser.add_argument("--questions", required=True, type=Path, help="JSONL file in the eval format")
        parser.add_argument("--source", help="data source for lines without db_id")
        parser.add_argument("--model", help="model name (default: the default model)")
        parser.add_argument("--out", type=Path, help="write the JSON report here")
        parser.add_argument(
            "--db-dir", type=Path, help="where <db_id>.sqlite files are (default: db/ beside the set)"
        )
        parser.add_argument("--limit", type=int, help="only the first N questions")
        parser.add_argument("--ids", help="only these ids (comma-separated)")
        approach = parser.add_mutually_exclusive_group()
        approach.add_argument(
            "--baseline", action="store_true",
            help="answer with the plain approach instead: full schema DDL, no grammar, no prefix reuse",
        )  # fmt: skip
        approach.add_argument(
            "--floor", action="store_true",
            help="time only the model reading the pipeline's prompt and decoding the gold SQL one token at a "
            "time: the least an answer written a token per decode can take (accuracy is not measured)",
        )  # fmt: skip

    def handle(
        self, *args, questions: Path, source, model, out, db_dir, limit, ids, baseline, floor, **options
    ):
        console = Console(file=self.stdout._out, force_terminal=None)
        if not questions.exists():
            raise CommandError(f"no such file: {questions}")
        items = load_questions(questions, source)
        if ids:
            wanted = set(ids.split(","))
            items = [q for q in items if q.id in wanted]
        if limit:
            items = items[:limit]
        db_dir = db_dir or (questions.parent / "db")
        ensure_sources(
            items, db_dir if db_dir.exists() else None, lambda text: console.print(f"[dim]{text}[/dim]")
        )
        try:
            generator = get_generator(model)
        except (UnknownModel, ModelUnavailable) as exc:
            raise CommandError(str(exc)) from exc

        outcomes: list[Outcome] = []
        with Progress(
            TextColumn("[bold]evaluate[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("questions", total=len(items), stats="")
            for outcome in evaluate(items, generator, db_dir, baseline=baseline, floor=floor):
                outcomes.append(outcome)
                stats = summary(outcomes)
                if not console.is_terminal:  # a log file gets one line per question instead of a bar
                    console.print(
                        f"{len(outcomes)}/{len(items)} {outcome.id} {outcome.verdict} {outcome.latency_ms / 1000:.1f}s"
                        f"  (accuracy so far {stats['accuracy']:.0%})"
                    )
                progress.update(
                    task,
                    advance=1,
                    stats=f"accuracy {stats['accuracy']:.0%}  p50 {_ms(stats['latency_p50_ms'])}  last: {outcome.id} {outcome.verdict}",
                )

        stats = summary(outcomes)
        wrong = Table(title="Questions not answered right", show_lines=False)
        for column in ("id", "verdict", "latency", "question", "detail"):
            wrong.add_column(column, overflow="fold")
        for o in outcomes:
            if not o.correct:
                wrong.add_row(
                    o.id, o.verdict, _ms(o.latency_ms), o.question[:60], (o.error or o.sql or "")[:120]
                )
        if wrong.row_count:
            console.print(wrong)

        approach = " (baseline)" if baseline else " (floor: the gold SQL replayed)" if floor else ""
        table = Table(title=f"{questions.name} on {generator.name}{approach}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        if not floor:
            table.add_row(
                "execution accuracy", f"{stats['accuracy']:.1%} ({stats['correct']}/{stats['questions']})"
            )
        table.add_row("latency p50 / p95", f"{_ms(stats['latency_p50_ms'])} / {_ms(stats['latency_p95_ms'])}")
        table.add_row("first streamed token p50", _ms(stats["first_token_p50_ms"]))
        table.add_row("prompt tokens per question (mean)", f"{stats['prompt_tokens_mean']:.0f}")
        table.add_row("  of which reused prefix (mean)", f"{stats['cached_prompt_tokens_mean']:.0f}")
        table.add_row("generated tokens per question (mean)", f"{stats['completion_tokens_mean']:.0f}")
        if stats["warm_up_ms"]:
            table.add_row(
                "prefix warm-up per source, not in latency", f"{stats['warm_up_ms'] / 1000:.1f} s in all"
            )
        table.add_row("paths", ", ".join(f"{k} {v}" for k, v in stats["paths"].items()))
        table.add_row("verdicts", ", ".join(f"{k} {v}" for k, v in stats["verdicts"].items()))
        console.print(table)

        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            document = report_document(
                outcomes,
                questions_file=str(questions),
                model=generator.name,
                baseline=baseline,
                floor=floor,
                machine=platform.platform(),
            )
            out.write_text(json.dumps(document, indent=2, default=str))
            console.print(f"report written to {out}")
