"""The first answer after a worker restarts, against the warm p50, with many sources imported.

A restarted worker has read no prompt: it warms sources in the background while the first questions come.
This command builds ``--sources`` small SQLite sources, measures warm answers on one of them, then, for
each row, drops every evaluated prompt in memory (what a restart loses; the prefix files on disk stay),
starts the warm-up and at once asks about a source the warm-up does not come to first: the one read before
(its prefix comes back from disk), or one never read (its files removed), with the warm-up stepping aside
or reading in turn. The sources are removed from the catalog afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from analytics_chat.engine.evaluation import Question, answer_question, percentile
from analytics_chat.engine.warmup import WarmUp, sources_by_need
from analytics_chat.llm.errors import ModelUnavailable, UnknownModel
from analytics_chat.llm.files import forget_prefix_files
from analytics_chat.llm.registry import get_generator
from catalog.models import DataSource
from catalog.sync import import_source

SOURCE_PREFIX = "restart_bench_"
# Written for this benchmark: questions any of its shop sources can answer.
QUESTIONS = [
    "How many products are there?",
    "What is the total quantity sold in 2024?",
    "Which category has the most products?",
    "What is the average price of the products?",
    "How many sales were made in 2023?",
]
CATEGORIES = ["garden", "kitchen", "office", "toys", "sports", "books", "tools"]


def build_shop_sources(folder: Path, count: int, prefix: str = SOURCE_PREFIX) -> list[str]:
    """``count`` small shop databases (products, customers, sales; each with its own rows) imported as
    sources named ``prefix00``, ``prefix01``, ...; returns their names."""
    names = []
    for index in range(count):
        name = f"{prefix}{index:02d}"
        path = folder / f"{name}.sqlite"
        with sqlite3.connect(path) as conn:
            conn.executescript(
                """
                CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL);
                CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT, city TEXT);
                CREATE TABLE sales (sale_id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(product_id),
                    customer_id INTEGER REFERENCES customers(customer_id), quantity INTEGER, year INTEGER);
                """
            )
            conn.executemany(
                "INSERT INTO products VALUES (?, ?, ?, ?)",
                [(p, f"item {index}-{p}", CATEGORIES[(p + index) % len(CATEGORIES)], 5.0 + (p * 7 + index) % 90)
                 for p in range(1, 21 + index)],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO customers VALUES (?, ?, ?)",
                [(c, f"customer {c}", f"city {(c + index) % 6}") for c in range(1, 11)],
            )
            conn.executemany(
                "INSERT INTO sales VALUES (?, ?, ?, ?, ?)",
                [(s, 1 + (s * 3 + index) % 20, 1 + s % 10, 1 + (s + index) % 5, 2022 + s % 3)
                 for s in range(1, 61)],
            )  # fmt: skip
        import_source(name, path)
        names.append(name)
    return names


def _answer_ms(generator, ask: str, source: str) -> float:
    state, _first, error = answer_question(
        Question(id="r", question=ask, gold_sql=None, source=source), generator, []
    )
    if error:
        raise CommandError(f"{ask!r} on {source} failed: {error}")
    return sum(state.timings_ms.values())


class Command(BaseCommand):
    help = "First answer after a restart (nothing read yet, the warm-up running) against the warm p50."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="model name (default: the default model)")
        parser.add_argument("--sources", type=int, default=20)

    def handle(self, *args, model, sources: int, **options):
        console = Console(file=self.stdout._out)  # type: ignore[arg-type]  # the stubs type _out as write()
        try:
            generator = get_generator(model)
        except (UnknownModel, ModelUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if not hasattr(generator, "forget_prompts"):
            raise CommandError(f"model {generator.name} keeps no prompts: nothing to measure")
        with tempfile.TemporaryDirectory() as folder:
            names = build_shop_sources(Path(folder), sources)
            try:
                rows = self._measure(generator, names, console)
            finally:
                DataSource.objects.filter(name__in=names).delete()
        load = os.getloadavg()
        table = Table(title=f"{generator.name}, {sources} sources: first answer after a restart")
        for column in ("asked source, warm-up", "warm p50", "first answer after restart", "ratio"):
            table.add_column(column, justify="left" if column.startswith("asked") else "right")
        for label, warm_p50, first in rows:
            table.add_row(
                label, f"{warm_p50 / 1000:.2f} s", f"{first / 1000:.2f} s", f"{first / warm_p50:.1f}x"
            )
        console.print(table)
        console.print(f"load average while measuring: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)")

    def _measure(self, generator, names: list[str], console: Console) -> list[tuple[str, float, float]]:
        warm_source, cold_source = names[0], names[-1]
        with console.status("warm answers"):
            for ask in QUESTIONS:  # reads the source's prefix once
                _answer_ms(generator, ask, warm_source)
            warm = [_answer_ms(generator, ask, warm_source) for ask in QUESTIONS]
        warm_p50 = statistics.median(warm)
        rows = []
        for label, source, steps_aside in (
            ("a source read before: its prefix from disk", warm_source, True),
            ("a source never read, in order of need, stepping aside (now)", cold_source, True),
            ("a source never read, in turn (before)", cold_source, False),
        ):
            # what a restart loses: every prompt in memory; the files on disk stay
            generator.forget_prompts(keep_files=True)
            if source == cold_source:  # never read: no row may restore what an earlier row saved
                forget_prefix_files(cold_source)
            warm_up = WarmUp(generator)
            order = sources_by_need(settings.CHAT["DEFAULT_SOURCE"], len(names) + 1)
            order = [s for s in order if s.name != source]  # the question's source is not warmed first
            thread = threading.Thread(target=warm_up.run, args=(order,), daemon=True)
            thread.start()
            time.sleep(0.5)  # the warm-up is reading when the question comes
            with (
                console.status(f"first answer after a restart: {label}"),
                warm_up.answering(source) if steps_aside else nullcontext(),
            ):
                first = _answer_ms(generator, QUESTIONS[0], source)
            warm_up.stop()
            thread.join()
            rows.append((label, warm_p50, first))
        console.print(
            f"warm answers: p50 {warm_p50 / 1000:.2f} s, p95 {(percentile(warm, 0.95) or 0) / 1000:.2f} s"
        )
        return rows
