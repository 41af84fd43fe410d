"""Dev harness for the SQL path: accuracy and latency on an eval set, to iterate on prompts and grammar.

    python -m analytics_chat.engine.devbench --set spider --model models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

Imports each Spider database from its .sqlite file (as a user would: no descriptions), asks every
question through ``write_sql``, runs the SQL and scores it against the gold SQL with ``results_match``.
Needs DJANGO_SETTINGS_MODULE (defaults to analytics_chat.settings) and a migrated database. The machine
is shared, so latency figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

EVAL_DIR = Path("/work/shared/eval")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_chat.settings")
    import django

    django.setup()


def load_questions(
    path: Path, db_ids: list[str] | None, limit: int | None, every: int
) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if db_ids:
        rows = [r for r in rows if r.get("db_id") in db_ids]
    rows = rows[::every]
    return rows[:limit] if limit else rows


def _make_generator(model_path: str, threads: int, context: int, lazy: bool = True) -> Any:
    from analytics_chat.engine.lazy_grammar import LazyGrammarGenerator
    from analytics_chat.llm.llama import LlamaGenerator
    from analytics_chat.models import LLMModel

    model = LLMModel(
        name=Path(model_path).stem,
        path=str(Path(model_path).resolve()),
        context_size=context,
        threads=threads,
    )
    return (LazyGrammarGenerator if lazy else LlamaGenerator)(model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="spider", choices=["spider", "demo"])
    parser.add_argument("--model", required=True, help="path of a GGUF file")
    parser.add_argument("--db", action="append", help="only these db_ids (repeatable)")
    parser.add_argument("--only", action="append", help="only these question ids (repeatable)")
    parser.add_argument("--limit", type=int, help="at most this many questions")
    parser.add_argument("--every", type=int, default=1, help="take every n-th question")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--eager-grammar", action="store_true", help="grammar over the whole vocabulary")
    parser.add_argument("--out", help="write per-question results here (JSON lines)")
    args = parser.parse_args(argv)
    _setup_django()

    from analytics_chat.engine.scoring import results_match
    from analytics_chat.engine.sql_path import write_sql
    from analytics_chat.llm.base import CancelToken, GenerationOptions
    from analytics_chat.pipeline.state import StageError
    from catalog.execution import QueryError, run_query
    from catalog.models import DataSource
    from catalog.sync import import_source

    if args.set == "spider":
        questions = load_questions(EVAL_DIR / "spider" / "spider_dev.jsonl", args.db, args.limit, args.every)
    else:
        questions = load_questions(EVAL_DIR / "demo_dev.jsonl", None, args.limit, args.every)
    if args.only:
        questions = [q for q in questions if q["id"] in args.only]
    sources: dict[str, DataSource] = {}
    for db_id in sorted({q.get("db_id") or "demo" for q in questions}):
        if args.set == "spider":
            sources[db_id] = import_source(db_id, EVAL_DIR / "spider" / "db" / f"{db_id}.sqlite")
        else:
            sources[db_id] = DataSource.objects.get(name="demo")
    generator = _make_generator(args.model, args.threads, args.context, lazy=not args.eager_grammar)
    out = open(args.out, "w") if args.out else None  # noqa: SIM115
    right, latencies, prompt_tokens, completion_tokens = 0, [], [], []
    for index, q in enumerate(questions, 1):
        source = sources[q.get("db_id") or "demo"]
        started = time.perf_counter()
        record: dict[str, Any] = {"id": q["id"], "question": q["question"]}
        try:
            draft = write_sql(q["question"], source, None, [], generator, GenerationOptions(), CancelToken())
            record.update(sql=draft.sql, attempts=draft.attempts)
            prompt_tokens.append(sum(g.prompt_tokens - g.cached_prompt_tokens for g in draft.generations))
            completion_tokens.append(sum(g.completion_tokens for g in draft.generations))
            answer = run_query(source, draft.sql, row_cap=100_000)
            gold = run_query(source, q.get("gold_sql_duckdb") or q["gold_sql"], row_cap=100_000)
            ok = results_match(
                answer.rows, answer.columns, gold.rows, gold.columns, q.get("order_matters", False)
            )
        except (StageError, QueryError) as error:
            ok = False
            record["error"] = f"{type(error).__name__}: {getattr(error, 'code', '')} {error}"
            record["attempts"] = getattr(error, "details", {}).get("attempts")
        elapsed = time.perf_counter() - started
        latencies.append(elapsed)
        right += ok
        record.update(ok=ok, seconds=round(elapsed, 2))
        if out:
            out.write(json.dumps(record, default=str) + "\n")
            out.flush()
        mark = "ok " if ok else "BAD"
        print(f"[{index}/{len(questions)}] {mark} {elapsed:5.1f}s acc={right / index:.1%} {q['id']}: "
              f"{record.get('sql') or record.get('error')}", flush=True)  # fmt: skip
    n = len(questions)
    print(f"\naccuracy {right}/{n} = {right / max(n, 1):.1%}")
    print(
        f"latency p50 {statistics.median(latencies):.2f}s  p95 {sorted(latencies)[int(0.95 * (n - 1))]:.2f}s"
    )
    if prompt_tokens:
        print(f"uncached prompt tokens p50 {statistics.median(prompt_tokens):.0f}, "
              f"completion tokens p50 {statistics.median(completion_tokens):.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
