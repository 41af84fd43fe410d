"""Speed of the answer pipeline against the plain approach, in one process, on the demo data."""

from __future__ import annotations

import json
import resource
import statistics
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analytics_chat.engine.evaluation import Question, answer_question, baseline_answer, percentile
from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
from analytics_chat.llm.registry import get_generator

# Questions of the kinds people ask of a retail dataset (written for the benchmark, not taken from the
# evaluation sets). The first one warms the prompt prefixes and is reported on its own.
QUESTIONS = [
    "What is the revenue by sales region?",
    "How many orders were shipped in 2023?",
    "Show revenue by month for 2024 as a chart.",
    "Which product category sold the most units?",
    "What is the average discount by sales channel?",
    "How many customers are there per country?",
    "Top 10 products by gross margin",
    "How many returned orders were there in 2025?",
    "What is the average order value per region?",
    "List the five cities with the most customers.",
]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


class Command(BaseCommand):
    help = "Time to first token, end-to-end latency and its split by stage, against a plain-prompt baseline."

    def add_arguments(self, parser):
        parser.add_argument("--source", default="demo")
        parser.add_argument("--model", help="model name (default: the default model)")
        parser.add_argument("--limit", type=int, help="only the first N questions")
        parser.add_argument("--out", type=Path, help="write the JSON report here")

    def handle(self, *args, source: str, model, limit, out, **options):
        console = Console(file=self.stdout._out)  # type: ignore[arg-type]  # the stubs type _out as write()
        try:
            generator = get_generator(model)
        except (UnknownModel, ModelUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        asks = QUESTIONS[: limit or len(QUESTIONS)]
        runs: dict[str, list[dict]] = {"pipeline": [], "baseline": []}
        with Progress(TextColumn("[bold]benchmark[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:  # fmt: skip
            task = progress.add_task("", total=2 * len(asks))
            # All pipeline questions first: the baseline forgets every evaluated prompt before each of its
            # own questions, which would otherwise throw away the prefixes the pipeline reuses.
            for mode in ("pipeline", "baseline"):
                for index, ask in enumerate(asks):
                    question = Question(id=f"b{index}", question=ask, gold_sql=None, source=source)
                    progress.update(task, description=f"{mode}: {ask[:40]}")
                    if mode == "pipeline":
                        state, first_ms, error = answer_question(question, generator, [])
                    else:
                        state, first_ms, error = baseline_answer(question, generator)
                    runs[mode].append({
                        "ask": ask, "latency_ms": sum(state.timings_ms.values()), "first_token_ms": first_ms,
                        "stages": state.timings_ms, "usage": state.usage, "error": error, "sql": state.sql,
                    })  # fmt: skip
                    progress.advance(task)
        peak_rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

        cold = {mode: rows[0] for mode, rows in runs.items()}
        warm = {mode: rows[1:] or rows for mode, rows in runs.items()}
        table = Table(title=f"{generator.name} on {source}: {len(asks) - 1} warm questions (+1 cold)")
        for column in ("measure", "pipeline", "baseline", "pipeline is"):
            table.add_column(column, justify="right" if column != "measure" else "left")

        def row(label: str, key: str, share: float = 0.5) -> None:
            values = {}
            for mode in runs:
                numbers = [r[key] for r in warm[mode] if r[key] is not None]
                values[mode] = percentile(numbers, share) if numbers else None
            ratio = (
                (values["baseline"] / values["pipeline"])
                if values["pipeline"] and values["baseline"]
                else None
            )
            table.add_row(label, _seconds(values["pipeline"]), _seconds(values["baseline"]),
                          f"{ratio:.1f}x faster" if ratio else "-")  # fmt: skip

        row("end-to-end p50", "latency_ms")
        row("end-to-end p95", "latency_ms", 0.95)
        row("first streamed token p50", "first_token_ms")
        tokens = {
            mode: {
                "prompt": statistics.fmean(r["usage"]["prompt_tokens"] for r in warm[mode]),
                "reused": statistics.fmean(r["usage"]["cached_prompt_tokens"] for r in warm[mode]),
                "generated": statistics.fmean(r["usage"]["completion_tokens"] for r in warm[mode]),
            }
            for mode in runs
        }
        table.add_row("prompt tokens read (mean)", f"{tokens['pipeline']['prompt'] - tokens['pipeline']['reused']:.0f}",
                      f"{tokens['baseline']['prompt'] - tokens['baseline']['reused']:.0f}", "")  # fmt: skip
        table.add_row(
            "tokens generated (mean)",
            f"{tokens['pipeline']['generated']:.0f}",
            f"{tokens['baseline']['generated']:.0f}",
            "",
        )
        table.add_row(
            "cold first question",
            _seconds(cold["pipeline"]["latency_ms"]),
            _seconds(cold["baseline"]["latency_ms"]),
            "",
        )
        console.print(table)

        stages = Table(title="pipeline time by stage (mean of warm questions)")
        stages.add_column("stage")
        stages.add_column("mean", justify="right")
        names = list(dict.fromkeys(n for r in warm["pipeline"] for n in r["stages"]))
        for name in names:
            stages.add_row(
                name, _seconds(statistics.fmean(r["stages"].get(name, 0.0) for r in warm["pipeline"]))
            )
        console.print(stages)
        console.print(f"peak RSS of this process (model and context loaded): {peak_rss_gib:.2f} GiB")
        failures = [
            (m, r["ask"], r["error"]) for m in ("pipeline", "baseline") for r in runs[m] if r["error"]
        ]
        for mode, ask, error in failures:
            console.print(f"[yellow]{mode} failed[/yellow] {ask}: {error}")
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                json.dumps(
                    {"model": generator.name, "peak_rss_gib": peak_rss_gib, "tokens": tokens, "runs": runs},
                    indent=2,
                    default=str,
                )
            )
            console.print(f"report written to {out}")
