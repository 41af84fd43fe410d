"""Measure a registered model: prompt and generation speed, prefix-state restore time, memory.

Run: ``python -m analytics_chat.llm.bench qwen2.5-coder-1.5b --threads 2 --context 4096``

``--beside N``: the same answer alone, then beside N CPU-bound processes (each spinning on one core), with
the threads fixed and with the threads fitted to the cores the neighbours leave free (``llm.cpu``).

``--grammar``: the cost of the SQL grammar check per token, over whole drafts that nest as deep as the
grammar allows (the model's vocabulary only; no weights are loaded): the check of the chosen token, its
acceptance, and the worst case, the grammar run over the whole vocabulary when the model's own choice
is refused and the allowed tokens are the least likely ones.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


def _rss_mib() -> dict[str, float]:
    """Current and peak resident memory of this process, from /proc."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


def _schema(domain: str, tables: int) -> str:
    ddl = "\n".join(
        f"CREATE TABLE {domain}_{n} (id INTEGER PRIMARY KEY, name TEXT, amount DECIMAL(10,2), created_at DATE, "
        f"region TEXT, status TEXT); -- {domain} facts, part {n}"
        for n in range(tables)
    )
    return f"You write DuckDB SQL for the {domain} database. Answer with one SQL query.\n{ddl}"


def _batch_decode_ms(
    llama, sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32), repeats: int = 5
) -> dict[int, float]:
    """Median time of one ``llama_decode`` of k tokens with logits at every position, after the prompt in
    the cache: what checking k drafted tokens at once would cost (speculative or prompt-lookup decoding)."""
    import statistics

    base = llama.n_tokens
    token = int(llama.input_ids[base - 1])  # any token: the content does not change the cost
    costs = {}
    for size in sizes:
        times = []
        for _ in range(repeats):
            llama._batch.set_batch(batch=[token] * size, n_past=base, logits_all=True)
            started = time.perf_counter()
            llama._ctx.decode(llama._batch)
            times.append((time.perf_counter() - started) * 1000)
            llama._ctx.kv_cache_seq_rm(-1, base, -1)
        costs[size] = round(statistics.median(times), 1)
    return costs


GRAMMAR_SCHEMA = {
    "customers": ["customer_id", "name", "email", "segment", "country", "city", "signup_date"],
    "orders": ["order_id", "customer_id", "order_date", "status", "channel"],
    "order_items": ["order_id", "line_no", "product_id", "quantity", "unit_price", "discount"],
    "products": ["product_id", "name", "category", "unit_cost", "list_price"],
}


def _nested_drafts(depth: int) -> dict[str, str]:
    """Drafts that open one level after another, each as deep as the grammar allows."""
    from_ = "SELECT name FROM customers"
    within = "SELECT customer_id FROM orders"
    for _ in range(depth):
        from_ = f"SELECT * FROM ({from_}) AS sub"
        within = f"SELECT customer_id FROM orders WHERE customer_id IN ({within})"
    return {
        "FROM (SELECT * FROM (": from_,
        "IN (SELECT ... IN (": within,
        "((((x))))": "SELECT " + "(" * depth + "quantity" + ")" * depth + " FROM order_items",
        "abs(abs(x))": "SELECT " + "abs(" * depth + "quantity" + ")" * depth + " FROM order_items",
    }


def grammar_costs(model_path: str) -> list[dict[str, Any]]:
    """Per draft, the cost of each token's grammar work in ms: median and max over the draft, and the
    last token's (the deepest point)."""
    import ctypes
    import statistics

    import llama_cpp
    import numpy as np
    from llama_cpp import Llama
    from llama_cpp import _internals as llama_internals

    from analytics_chat.engine.grammar import MAX_NESTING, build_sql_grammar
    from analytics_chat.llm.sampling import GrammarCheckedSampler

    llama = Llama(model_path=model_path, vocab_only=True, verbose=False)
    grammar = build_sql_grammar(GRAMMAR_SCHEMA).encode()
    n_vocab = llama.n_vocab()
    rows = []
    for name, sql in _nested_drafts(MAX_NESTING).items():
        tokens = llama.tokenize(sql.encode(), add_bos=False, special=False)
        sampler = GrammarCheckedSampler(
            llama_internals.LlamaSampler(),
            llama_cpp.llama_sampler_init_grammar(llama._model.vocab, grammar, b"root"),
            n_vocab,
        )
        checks, accepts, scans = [], [], []
        data = np.zeros(n_vocab, dtype=sampler._data.dtype)
        for token in tokens:
            started = time.perf_counter()
            assert sampler._allowed(token), (name, llama.detokenize([token]))
            checks.append((time.perf_counter() - started) * 1000)
            data["id"], data["logit"] = np.arange(n_vocab), 0.0
            array = llama_cpp.llama_token_data_array(
                data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), n_vocab, -1, False
            )
            started = time.perf_counter()
            llama_cpp.llama_sampler_apply(sampler.grammar, ctypes.byref(array))
            scans.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            llama_cpp.llama_sampler_accept(sampler.grammar, token)
            accepts.append((time.perf_counter() - started) * 1000)
        sampler.close()
        rows.append(
            {
                "draft": name,
                "tokens": len(tokens),
                "check_ms": (statistics.median(checks), max(checks), checks[-1]),
                "accept_ms": (statistics.median(accepts), max(accepts), accepts[-1]),
                "whole_vocabulary_ms": (statistics.median(scans), max(scans), scans[-1]),
            }
        )
    return rows


def _spin_forever() -> None:
    while True:
        pass


def _answer_speed(generator, system: str, question: str) -> dict[str, float]:
    """Read a cold prompt and write 64 tokens: prompt tokens a second and ms a written token."""
    from analytics_chat.llm.base import GenerationOptions

    generator.forget_prompts()
    result = generator.complete(
        [{"role": "system", "content": system}, {"role": "user", "content": question}],
        options=GenerationOptions(temperature=0.0, max_tokens=64),
    )
    return {
        "prompt_tokens_per_s": round(result.prompt_tokens / result.prompt_ms * 1000, 1),
        "ms_per_token": round(result.generation_ms / max(1, result.completion_tokens), 1),
        "threads": generator.threads,
    }


def fairness(generator, system: str, neighbours: int) -> list[dict[str, Any]]:
    """The same answer alone, then beside ``neighbours`` spinning processes with fixed and fitted threads."""
    import multiprocessing

    question = "Write ten different SQL queries about sales per region."
    from analytics_chat.llm.llama import shared_free_cores

    configured = generator._free_cores
    sampler = configured or shared_free_cores()
    rows: list[dict[str, Any]] = [{"condition": "alone", **_answer_speed(generator, system, question)}]
    spinners = [multiprocessing.get_context("spawn").Process(target=_spin_forever, daemon=True)
                for _ in range(neighbours)]  # fmt: skip
    for spinner in spinners:
        spinner.start()
    try:
        time.sleep(2.0)  # the sampler's window is one second
        for label, fitted in (("fixed threads", None), ("threads fitted to free cores", sampler)):
            generator._free_cores = fitted
            if fitted is None:
                generator._fit_threads_to(generator._most_threads)
            rows.append(
                {
                    "condition": f"beside {neighbours} busy, {label}",
                    **_answer_speed(generator, system, question),
                }
            )
    finally:
        generator._free_cores = configured
        for spinner in spinners:
            spinner.kill()
    alone = rows[0]["ms_per_token"]
    for row in rows:
        row["slowdown"] = round(float(row["ms_per_token"]) / float(alone), 2)
    return rows


def print_fairness(rows: list[dict[str, Any]], neighbours: int) -> None:
    print(f"one answer (cold prompt, 64 tokens written) alone and beside {neighbours} CPU-bound processes")
    print("| condition | threads | prompt tokens/s | ms per written token | x alone |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['condition']} | {row['threads']} | {row['prompt_tokens_per_s']} | {row['ms_per_token']} "
              f"| {row['slowdown']} |")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")


def print_grammar_costs(rows: list[dict[str, Any]]) -> None:
    from analytics_chat.engine.grammar import MAX_NESTING

    print(f"grammar work per token over drafts nested {MAX_NESTING} deep, ms (median / max / last token)")
    print("| draft | tokens | check of the chosen token | accept | whole vocabulary (worst case) |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        cells = [
            " / ".join(f"{v:.2f}" for v in row[key])
            for key in ("check_ms", "accept_ms", "whole_vocabulary_ms")
        ]
        print(f"| `{row['draft']}` | {row['tokens']} | " + " | ".join(cells) + " |")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_chat.settings")
    import django

    django.setup()
    from analytics_chat.llm.base import GenerationOptions
    from analytics_chat.llm.llama import LlamaGenerator
    from analytics_chat.models import LLMModel

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--tables", type=int, default=12, help="size of the schema prefix")
    parser.add_argument("--grammar", action="store_true", help="the grammar's cost per token only")
    parser.add_argument("--beside", type=int, metavar="N", help="alone, then beside N CPU-bound processes")
    args = parser.parse_args()

    if args.grammar:
        from analytics_chat.llm.files import resolve_model_path

        print_grammar_costs(
            grammar_costs(str(resolve_model_path(LLMModel.objects.get(name=args.model).path)))
        )
        return

    model = LLMModel.objects.get(name=args.model)
    model.threads, model.context_size = args.threads, args.context
    started = time.perf_counter()
    generator = LlamaGenerator(model)
    if args.beside:
        print_fairness(fairness(generator, _schema("sales", args.tables), args.beside), args.beside)
        return
    report: dict[str, Any] = {"model": model.name, "threads": args.threads, "context": args.context}
    report["load_s"] = round(time.perf_counter() - started, 2)
    report["rss_after_load_mib"] = _rss_mib()["VmRSS"]

    greedy = GenerationOptions(temperature=0.0, max_tokens=64)
    systems = [_schema("sales", args.tables), _schema("fleet", args.tables)]
    cold = generator.complete(
        [{"role": "system", "content": systems[0]}, {"role": "user", "content": "Total amount per region?"}],
        options=greedy,
    )
    read = cold.prompt_tokens - cold.cached_prompt_tokens
    report["cold_prompt"] = {
        "tokens": read,
        "ms": cold.prompt_ms,
        "tokens_per_s": round(read / cold.prompt_ms * 1000, 1),
    }
    writing = generator.complete(
        [
            {"role": "system", "content": systems[0]},
            {"role": "user", "content": "Write ten different SQL queries."},
        ],
        options=GenerationOptions(temperature=0.0, max_tokens=96),
    )
    report["warm_prompt"] = {
        "tokens": writing.prompt_tokens,
        "cached": writing.cached_prompt_tokens,
        "ms": writing.prompt_ms,
        "first_token_ms": writing.first_token_ms,
    }
    report["generation"] = {
        "tokens": writing.completion_tokens,
        "ms": writing.generation_ms,
        "tokens_per_s": round(writing.completion_tokens / writing.generation_ms * 1000, 1),
    }
    generator.complete(
        [{"role": "system", "content": systems[1]}, {"role": "user", "content": "Vehicles per region?"}],
        options=greedy,
    )
    switched = generator.complete(
        [{"role": "system", "content": systems[0]}, {"role": "user", "content": "Orders per status?"}],
        options=greedy,
    )
    state = generator.prefix_cache.states()[-1]  # the most recently used: the sales schema
    restore_started = time.perf_counter()
    generator._restore(state)
    report["prefix_state"] = {
        "tokens": len(state.tokens),
        "bytes": len(state.kv),
        "restore_ms": round((time.perf_counter() - restore_started) * 1000, 1),
        "switch_back_prompt_ms": switched.prompt_ms,
        "switch_back_cached": switched.cached_prompt_tokens,
    }
    report["batch_decode_ms"] = _batch_decode_ms(generator._llama)
    report["rss_mib"] = _rss_mib()
    report["load_average"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    print("\ntokens in one decode | " + " | ".join(str(k) for k in report["batch_decode_ms"]))
    print("ms                   | " + " | ".join(str(v) for v in report["batch_decode_ms"].values()))


if __name__ == "__main__":
    main()
