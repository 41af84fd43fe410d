"""python manage.py gold_parity --questions FILE... --source-prefix P: the gold queries on a server copy.

Before ``evaluate --source-prefix`` measures accuracy on PostgreSQL or MariaDB copies of a set's databases
(``load_sqlite``), this checks the copies without a model: every question's gold query, answered as the
pipeline runs an answer (the guard for the copy's dialect, transpiled, run on the server) and scored as
``evaluate`` scores it, must fare on the copy as on the set's own source."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from analytics_chat.engine.evaluation import GoldCheck, check_gold, ensure_sources, load_questions
from catalog.models import DataSource


class Command(BaseCommand):
    help = (
        "Answer every question of one or more JSONL sets with its gold query on the copy <prefix><db_id> "
        "and on <db_id> itself, scored as evaluate scores; report where the two differ (no model is used)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--questions", required=True, type=Path, nargs="+", help="JSONL set(s)")
        parser.add_argument(
            "--source-prefix",
            required=True,
            help="the copies' prefix, as given to load_sqlite --source-prefix",
        )
        parser.add_argument(
            "--db-dir", type=Path, help="where <db_id>.sqlite files are (default: db/ beside each set)"
        )
        parser.add_argument("--ids", help="only these ids (comma-separated)")

    def handle(self, *args, questions, source_prefix, db_dir, ids, **options):
        console = Console(file=self.stdout._out, force_terminal=None, width=160)  # type: ignore[arg-type]  # the stubs type _out as write()
        checks: list[GoldCheck] = []
        for path in map(Path, questions):
            if not path.exists():
                raise CommandError(f"no such file: {path}")
            items = [q for q in load_questions(path, None) if q.gold_sql]
            if ids:
                wanted = set(ids.split(","))
                items = [q for q in items if q.id in wanted]
            for item in items:
                item.reference, item.source = item.source, f"{source_prefix}{item.source}"
            missing = sorted(
                {q.source for q in items} - set(DataSource.objects.values_list("name", flat=True))
            )
            if missing:
                raise CommandError(
                    f"no source {', '.join(missing)}: load the set with load_sqlite URL FILE... "
                    f"--source-prefix {source_prefix}"
                )
            set_db_dir = db_dir or (path.parent / "db")
            ensure_sources(
                items, set_db_dir if set_db_dir.exists() else None, lambda text: console.print(text)
            )
            for item in items:
                check = check_gold(item, set_db_dir)
                checks.append(check)
                if not check.same:
                    tie = " (ties in the data: the gold depends on row order)" if check.tie_sensitive else ""
                    console.print(
                        f"[bold]{check.id}[/bold]{tie} {check.source}: {check.verdict}, "
                        f"{check.reference}: {check.reference_verdict}: {(check.detail or '')[:300]}"
                    )
        self._print(console, checks, source_prefix)
        differ = [c.id for c in checks if not c.same and not c.tie_sensitive]
        if differ:
            raise CommandError(
                f"{len(differ)} of {len(checks)} gold queries fare otherwise on the copy, not for a tie: "
                f"{', '.join(differ)}"
            )

    @staticmethod
    def _print(console: Console, checks: list[GoldCheck], prefix: str) -> None:
        by_source: dict[str, list[GoldCheck]] = defaultdict(list)
        for check in checks:
            by_source[check.reference].append(check)
        table = Table(title=f"gold queries on the copies {prefix}<db_id> and on <db_id>")
        for column in ("db_id", "questions", "same verdict", "otherwise, on a tie", "correct on copy",
                       "correct on own", "p50 copy", "p50 own"):  # fmt: skip
            table.add_column(column, justify="left" if column == "db_id" else "right")
        for name, group in [*sorted(by_source.items()), ("all", checks)]:
            table.add_row(
                name, str(len(group)), str(sum(c.same for c in group)),
                str(sum(not c.same and c.tie_sensitive for c in group)),
                str(sum(c.verdict == "correct" for c in group)),
                str(sum(c.reference_verdict == "correct" for c in group)),
                f"{statistics.median(c.copy_ms for c in group):.0f} ms" if group else "-",
                f"{statistics.median(c.reference_ms for c in group):.0f} ms" if group else "-",
                end_section=name == sorted(by_source)[-1],
            )  # fmt: skip
        console.print(table)
