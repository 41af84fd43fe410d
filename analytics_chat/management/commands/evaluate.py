"""Execution accuracy and latency of the answer pipeline on one or more question sets, in one table."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analytics_chat.engine.evaluation import (
    Outcome,
    Question,
    ensure_sources,
    evaluate,
    load_questions,
    report_document,
    summary,
)
from analytics_chat.llm.base import TextGenerator
from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
from analytics_chat.llm.registry import get_generator


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


def _accuracy(stats: dict[str, Any]) -> str:
    return f"{stats['accuracy']:.1%} ({stats['correct']}/{stats['questions']})"


class Command(BaseCommand):
    help = (
        "Ask every question of one or more JSONL sets through the answer pipeline; report accuracy, "
        "how many wrong answers were silent, and latency, in one table (with --with-baseline, beside the "
        "plain-prompt baseline)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--questions", required=True, type=Path, nargs="+", help="JSONL file(s) in the eval format"
        )
        parser.add_argument("--source", help="data source for lines without db_id")
        parser.add_argument("--model", help="model name (default: the default model)")
        parser.add_argument(
            "--out", type=Path, help="write the JSON report here (one set) or into this folder (several)"
        )
        parser.add_argument(
            "--db-dir", type=Path, help="where <db_id>.sqlite files are (default: db/ beside each set)"
        )
        parser.add_argument("--limit", type=int, help="only the first N questions of each set")
        parser.add_argument(
            "--source-prefix",
            help="ask each question on the source <prefix><db_id> (e.g. pg_ after load_sqlite --source-prefix "
            "pg_), scored against the gold result on <db_id> itself",
        )
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
        approach.add_argument(
            "--with-baseline", action="store_true",
            help="answer each set with the pipeline and then with the plain-prompt baseline, side by side",
        )  # fmt: skip

    def handle(self, *args, questions, source, model, out, db_dir, limit, ids, baseline, floor, **options):
        console = Console(file=self.stdout._out, force_terminal=None)  # type: ignore[arg-type]  # the stubs type _out as write()
        files = questions if isinstance(questions, list) else [questions]
        missing = [f for f in files if not Path(f).exists()]
        if missing:
            raise CommandError(f"no such file: {missing[0]}")
        try:
            generator = get_generator(model)
        except (UnknownModel, ModelUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        approaches = ["pipeline", "baseline"] if options.get("with_baseline") else [
            "baseline" if baseline else "floor" if floor else "pipeline"
        ]  # fmt: skip

        rows: list[tuple[str, dict[str, dict[str, Any]]]] = []
        for path in map(Path, files):
            items = self._questions(path, source, ids, limit)
            for item in items if options.get("source_prefix") else []:
                item.reference, item.source = item.source, f"{options['source_prefix']}{item.source}"
            set_db_dir = db_dir or (path.parent / "db")
            ensure_sources(
                items,
                set_db_dir if set_db_dir.exists() else None,
                lambda text: console.print(f"[dim]{text}[/dim]"),
            )
            results: dict[str, dict[str, Any]] = {}
            for approach in approaches:
                outcomes = self._run(console, path, items, generator, set_db_dir, approach)
                self._print_set(console, path, generator, approach, outcomes)
                results[approach] = summary(outcomes)
                if out:
                    target = (
                        out
                        if len(files) == 1 and len(approaches) == 1
                        else out / f"{path.stem}-{approach}.json"
                    )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    document = report_document(
                        outcomes, questions_file=str(path), model=generator.name, baseline=approach == "baseline",
                        floor=approach == "floor", machine=platform.platform(),
                    )  # fmt: skip
                    target.write_text(json.dumps(document, indent=2, default=str))
                    console.print(f"report written to {target}")
            rows.append((path.name, results))
        if len(rows) > 1 or len(approaches) > 1:
            self._print_comparison(console, generator, rows, approaches)

    @staticmethod
    def _questions(path: Path, source: str | None, ids: str | None, limit: int | None) -> list[Question]:
        items = load_questions(path, source)
        if ids:
            wanted = set(ids.split(","))
            items = [q for q in items if q.id in wanted]
        return items[:limit] if limit else items

    @staticmethod
    def _run(
        console: Console,
        path: Path,
        items: list[Question],
        generator: TextGenerator,
        db_dir: Path,
        approach: str,
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with Progress(
            TextColumn(f"[bold]{path.stem} {approach}[/bold]"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[stats]}"), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("questions", total=len(items), stats="")
            answers = evaluate(
                items, generator, db_dir, baseline=approach == "baseline", floor=approach == "floor"
            )
            for outcome in answers:
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
        return outcomes

    @staticmethod
    def _print_set(
        console: Console, path: Path, generator: TextGenerator, approach: str, outcomes: list[Outcome]
    ) -> None:
        stats = summary(outcomes)
        wrong = Table(title=f"{path.name} ({approach}): questions not answered right", show_lines=False)
        for column in ("id", "verdict", "latency", "question", "detail"):
            wrong.add_column(column, overflow="fold")
        for o in outcomes:
            if not o.correct:
                wrong.add_row(
                    o.id, o.verdict, _ms(o.latency_ms), o.question[:60], (o.error or o.sql or "")[:120]
                )
        if wrong.row_count:
            console.print(wrong)

        label = {"baseline": " (baseline)", "floor": " (floor: the gold SQL replayed)"}.get(approach, "")
        table = Table(title=f"{path.name} on {generator.name}{label}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        if approach != "floor":
            table.add_row("execution accuracy", _accuracy(stats))
            table.add_row(
                "wrong answers: silent / refused / failed",
                f"{stats['silent_wrong']} / {stats['refused_wrongly']} / "
                f"{stats['wrong'] - stats['silent_wrong'] - stats['refused_wrongly']}",
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

    @staticmethod
    def _print_comparison(
        console: Console,
        generator: TextGenerator,
        rows: list[tuple[str, dict[str, dict[str, Any]]]],
        approaches: list[str],
    ) -> None:
        table = Table(title=f"All sets on {generator.name}")
        table.add_column("set")
        for approach in approaches:
            table.add_column(f"{approach} accuracy", justify="right")
            if approach != "baseline":
                table.add_column("silent / refused wrong", justify="right")
            table.add_column(f"{approach} p50 / p95", justify="right")
            table.add_column("first token p50", justify="right")
        for name, results in rows:
            cells = [name]
            for approach in approaches:
                stats = results[approach]
                cells.append("-" if approach == "floor" else _accuracy(stats))
                if approach != "baseline":
                    cells.append(f"{stats['silent_wrong']} / {stats['refused_wrongly']} of {stats['wrong']}")
                cells.append(f"{_ms(stats['latency_p50_ms'])} / {_ms(stats['latency_p95_ms'])}")
                cells.append(_ms(stats["first_token_p50_ms"]))
            table.add_row(*cells)
        console.print(table)
