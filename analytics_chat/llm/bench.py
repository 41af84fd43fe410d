"""Measure a registered model: prompt and generation speed, prefix-state restore time, memory.

Run: ``python -m analytics_chat.llm.bench qwen2.5-coder-1.5b --threads 2 --context 4096``
"""

from __future__ import annotations

import argparse
import json
import os
import time


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
    args = parser.parse_args()

    model = LLMModel.objects.get(name=args.model)
    model.threads, model.context_size = args.threads, args.context
    started = time.perf_counter()
    generator = LlamaGenerator(model)
    report: dict[str, object] = {"model": model.name, "threads": args.threads, "context": args.context}
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
