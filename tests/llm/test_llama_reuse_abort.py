"""Prefix KV reuse and abort inside llama.cpp, on the 0.5B test model."""

from __future__ import annotations

import threading
import time

import pytest

from analytics_chat.llm.base import CancelToken, GenerationAborted, GenerationOptions, GenerationResult

pytestmark = pytest.mark.model

SHORT = GenerationOptions(temperature=0.0, max_tokens=4)


def schema_prompt(domain: str, tables: int = 5) -> str:
    """A system prompt shaped like a source's schema context (a few hundred tokens)."""
    ddl = "\n".join(
        f"CREATE TABLE {domain}_{n} (id INTEGER PRIMARY KEY, {domain}_name TEXT, amount DECIMAL(10,2), "
        f"created_at DATE, region TEXT); -- {domain} records, part {n}"
        for n in range(tables)
    )
    return f"You write DuckDB SQL for the {domain} database.\n{ddl}"


def ask(system: str, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def run_in_thread(generator, messages, options, cancel, on_text=None):
    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["result"] = generator.complete(messages, options=options, cancel=cancel, on_text=on_text)
        except GenerationAborted as aborted:
            outcome["aborted"] = aborted
            outcome["aborted_at"] = time.perf_counter()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_second_question_on_a_source_reads_only_its_own_tokens(generator):
    system = schema_prompt("library")
    prefix_tokens = generator.count_tokens(system)
    first = generator.complete(ask(system, "How many books are there?"), options=SHORT)
    second = generator.complete(ask(system, "Which region has the most loans?"), options=SHORT)
    assert first.cached_prompt_tokens < prefix_tokens * 0.2
    assert second.cached_prompt_tokens > 0.8 * prefix_tokens
    assert second.prompt_tokens - second.cached_prompt_tokens < 30
    assert second.prompt_ms < first.prompt_ms


def test_alternating_sources_reuse_both_prefixes(generator):
    systems = [schema_prompt("garden"), schema_prompt("harbour")]
    for system in systems:  # read each prefix once
        generator.complete(ask(system, "How many rows are there?"), options=SHORT)
    for system in systems:  # each switch restores the other prefix's saved KV state
        result = generator.complete(ask(system, "Show the top 3 regions."), options=SHORT)
        assert result.cached_prompt_tokens > 0.8 * generator.count_tokens(system), system[:40]


def test_a_new_prefix_starts_from_the_saved_one_that_shares_its_head(generator):
    """Every source's SQL prompt begins with the same instructions: a source read for the first time
    restores another source's saved prefix and reads only what differs."""
    head = "Rules for the SQL you write:\n" + "\n".join(
        f"- Rule {n}: use only the tables below, join on their keys, and name every column of rule {n}."
        for n in range(8)
    )
    generator.complete(ask(f"{head}\n{schema_prompt('orchard')}", "How many rows are there?"), options=SHORT)
    generator.complete(ask("You are a storyteller.", "Tell a short story."), options=SHORT)  # the KV moves on
    system = f"{head}\n{schema_prompt('quarry')}"
    result = generator.complete(ask(system, "How many rows are there?"), options=SHORT)
    assert generator.count_tokens(head) <= result.cached_prompt_tokens < generator.count_tokens(system)


def test_abort_while_writing_stops_within_a_second(generator):
    cancel = CancelToken()
    first_piece = threading.Event()
    thread, outcome = run_in_thread(
        generator,
        ask("You are a storyteller.", "Write a very long story about a ship."),
        GenerationOptions(temperature=0.0, max_tokens=400),
        cancel,
        on_text=lambda _piece: first_piece.set(),
    )
    assert first_piece.wait(120), "the model never started writing"
    time.sleep(0.3)
    cancelled_at = time.perf_counter()
    cancel.cancel()
    thread.join(30)
    assert "aborted" in outcome, outcome
    assert outcome["aborted_at"] - cancelled_at < 1.0
    partial = outcome["aborted"].partial
    assert isinstance(partial, GenerationResult)
    assert partial.finish_reason == "aborted"
    assert partial.text and partial.completion_tokens > 0


def test_abort_while_reading_a_long_prompt_and_context_still_works(generator):
    long_question = "Summarise these notes: " + " ".join(
        f"note {n} says the value was {n * 7}." for n in range(150)
    )
    assert generator.count_tokens(long_question) > 1400
    cancel = CancelToken()
    thread, outcome = run_in_thread(generator, ask("You are an analyst.", long_question), SHORT, cancel)
    time.sleep(1.5)  # well inside reading: ~1,500 tokens take tens of seconds on 2 cores
    cancelled_at = time.perf_counter()
    cancel.cancel()
    thread.join(30)
    assert "aborted" in outcome, "the prompt was read completely before the cancel"
    assert outcome["aborted_at"] - cancelled_at < 1.0
    partial = outcome["aborted"].partial
    assert partial.completion_tokens == 0 and partial.text == ""
    # What the context claims to hold must be what its KV cache holds: the next answer is sane.
    llama = generator._llama
    assert llama.n_tokens < partial.prompt_tokens
    after = generator.complete(
        ask("You are a concise assistant.", "What is 3 + 4? Answer with the number only."),
        options=GenerationOptions(temperature=0.0, max_tokens=8),
    )
    assert "7" in after.text


def test_replay_reads_the_prompt_like_complete_and_writes_every_token_of_the_text(generator):
    """The floor `evaluate --floor` measures: the saved prefix is reused, then one decode per token."""
    system = schema_prompt("orchard")
    answer = "SELECT region, count(*) FROM orchard_1 GROUP BY region"
    generator.complete(ask(system, "How many rows are there?"), options=SHORT)  # reads the prefix once
    replayed = generator.replay(ask(system, "Count rows per region."), answer)
    assert replayed.cached_prompt_tokens > 0.8 * generator.count_tokens(system)
    assert replayed.completion_tokens == generator.count_tokens(answer)
    assert replayed.text == answer and replayed.generation_ms > 0
    # The cache now holds prompt and answer: the same question continues from the replayed tokens.
    follow = generator.complete(ask(system, "Count rows per region."), options=SHORT)
    assert follow.prompt_tokens - follow.cached_prompt_tokens <= 1


def test_a_question_takes_the_model_from_a_warm_up_within_a_second(generator):
    """A worker's warm-up reads a long prefix in the background; a question stops it and goes first, and
    the warm-up reads the prefix again once the model is free."""
    notes = "Notes of the archive: " + " ".join(f"shelf {n} holds box {n * 3}." for n in range(160))
    warm_messages = ask(notes, "?")
    warmed: dict[str, object] = {}
    thread = threading.Thread(target=lambda: warmed.update(done=generator.warm(warm_messages)))
    thread.start()
    time.sleep(1.5)  # inside reading: ~1,500 tokens take many seconds on 2 cores
    assert thread.is_alive(), "the prefix was read before the question came"
    asked = time.perf_counter()
    answer = generator.complete(
        ask("You are a concise assistant.", "What is 3 + 4? Answer with the number only."),
        options=GenerationOptions(temperature=0.0, max_tokens=4),
    )
    waited_ms = (time.perf_counter() - asked) * 1000 - answer.prompt_ms - answer.generation_ms
    assert waited_ms < 1000, f"the question waited {waited_ms:.0f} ms for the warm-up"
    assert "7" in answer.text
    thread.join(600)
    assert warmed["done"] is True
    again = generator.complete(ask(notes, "How many shelves?"), options=SHORT)
    assert again.cached_prompt_tokens > 0.8 * generator.count_tokens(notes)


def test_a_restarted_model_restores_a_prefix_from_disk(generator, test_model):
    """A new process (here: a second generator on the same file) reads no prefix another one has read."""
    from analytics_chat.llm.llama import LlamaGenerator

    system = schema_prompt("quarry", tables=8)
    first = generator.complete(ask(system, "How many rows are there?"), options=SHORT)
    assert first.cached_prompt_tokens < 0.2 * generator.count_tokens(system)
    restarted = LlamaGenerator(test_model)
    try:
        again = restarted.complete(ask(system, "Which region has the most rows?"), options=SHORT)
    finally:
        restarted.close()
    assert again.cached_prompt_tokens > 0.8 * generator.count_tokens(system)
    assert again.prompt_tokens - again.cached_prompt_tokens < 30
    assert again.prompt_ms < first.prompt_ms


def test_a_forgotten_owner_is_read_again_after_a_restart(generator, test_model):
    """The saved prefix carries its owner's name; once forgotten (its catalog changed), a restarted
    worker reads the prompt again instead of restoring it."""
    from analytics_chat.llm.files import forget_prefix_files, prefix_root
    from analytics_chat.llm.llama import LlamaGenerator

    system = schema_prompt("lumber", tables=8)
    generator.complete(ask(system, "How many rows are there?"), options=SHORT, prefix_owner="lumber")
    assert list(prefix_root().glob("*/*.lumber.kv"))
    assert forget_prefix_files("lumber") >= 1
    restarted = LlamaGenerator(test_model)
    try:
        again = restarted.complete(
            ask(system, "Which region has the most rows?"), options=SHORT, prefix_owner="lumber"
        )
    finally:
        restarted.close()
    assert again.cached_prompt_tokens < 0.2 * generator.count_tokens(system)
    assert list(prefix_root().glob("*/*.lumber.kv"))  # read again, and saved again
