"""The grammar-checked sampler's fallback over candidate batches, and a draft caught in a loop, on the real
0.5B model (its vocabulary for the sampler; the whole model where generation runs)."""

from __future__ import annotations

import ctypes
import threading
import time

import llama_cpp
import numpy as np
import pytest
from llama_cpp import _internals as llama_internals

from analytics_chat.engine.grammar import build_sql_grammar
from analytics_chat.llm.base import BudgetExceeded, CancelToken, GenerationAborted, GenerationOptions
from analytics_chat.llm.sampling import CANDIDATE_BATCH, GrammarCheckedSampler

pytestmark = pytest.mark.model

SCHEMA = {"orders": ["order_id", "customer_id", "status"], "customers": ["customer_id", "name"]}
GRAMMAR = build_sql_grammar(SCHEMA)


@pytest.fixture(scope="module")
def vocab(test_model_file):
    from llama_cpp import Llama

    return Llama(str(test_model_file), vocab_only=True, verbose=False)


def grammar_sampler(vocab, **options) -> GrammarCheckedSampler:
    chain = llama_internals.LlamaSampler()
    chain.add_greedy()
    grammar = llama_cpp.llama_sampler_init_grammar(vocab._model.vocab, GRAMMAR.encode(), b"root")
    return GrammarCheckedSampler(chain, grammar, vocab.n_vocab(), **options)


def best_allowed_over_the_whole_vocabulary(sampler: GrammarCheckedSampler, logits: np.ndarray) -> int:
    data = np.zeros(len(logits), dtype=sampler._data.dtype)
    data["id"], data["logit"] = np.arange(len(logits)), logits
    array = llama_cpp.llama_token_data_array(
        data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), len(logits), -1, False
    )
    llama_cpp.llama_sampler_apply(sampler.grammar, ctypes.byref(array))
    return int(np.argmax(data["logit"]))


def test_the_batched_fallback_picks_what_the_whole_vocabulary_would(vocab):
    sampler = grammar_sampler(vocab)
    for token in vocab.tokenize(b"SELECT name FROM customers WHERE", add_bos=False, special=False):
        sampler.accept(token)
    logits = np.random.default_rng(7).normal(size=vocab.n_vocab()).astype(np.float32)
    count = sampler._allowed_candidates(logits)
    assert count >= 1
    assert int(sampler._data["id"][0]) == best_allowed_over_the_whole_vocabulary(sampler, logits)
    sampler.close()


def test_a_cancel_stops_the_fallback_between_batches(vocab):
    batches = []

    def check():
        batches.append(1)
        if len(batches) > 2:
            raise GenerationAborted()

    sampler = grammar_sampler(vocab, keep=vocab.n_vocab(), check_cancel=check)  # would scan everything
    with pytest.raises(GenerationAborted):
        sampler._allowed_candidates(np.zeros(vocab.n_vocab(), dtype=np.float32))
    assert len(batches) == 3 and vocab.n_vocab() > 3 * CANDIDATE_BATCH
    sampler.close()


# The draft starts three subqueries deep (the grammar writes the way in), so every token is sampled and
# checked at depth: the model is refused its own choice at first, and the fallback runs.
DEEP_GRAMMAR = GRAMMAR.replace(
    'root ::= query sp (";")?',
    'root ::= "SELECT * FROM (SELECT * FROM (SELECT * FROM (" query-d3 sp ") AS sub) AS sub) AS sub"',
)
STORY = "Write SQL for a long report about customers and their orders, with many columns."


def deep_generation(generator, cancel: CancelToken, opened: threading.Event, grammar: str = DEEP_GRAMMAR):
    written = []

    def on_text(piece: str) -> None:
        written.append(piece)
        if "".join(written).count("(") >= 3:
            opened.set()

    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["result"] = generator.complete(
                [{"role": "system", "content": "You write DuckDB SQL."}, {"role": "user", "content": STORY}],
                options=GenerationOptions(temperature=0.0, max_tokens=400),
                grammar=grammar,
                on_text=on_text,
                cancel=cancel,
            )
        except GenerationAborted as error:
            outcome["error"], outcome["at"] = error, time.perf_counter()
        finally:
            opened.set()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_an_abort_deep_in_a_grammar_draft_frees_the_model_within_a_second(generator):
    cancel, opened = CancelToken(), threading.Event()
    thread, outcome = deep_generation(generator, cancel, opened)
    assert opened.wait(300) and not outcome, f"the draft ended before it was three levels deep: {outcome}"
    cancelled_at = time.perf_counter()
    cancel.cancel()
    thread.join(30)
    assert "error" in outcome, outcome
    assert type(outcome["error"]) is GenerationAborted
    assert outcome["at"] - cancelled_at < 1.0
    # the model is free: the next generation starts and ends at once
    after = generator.complete(
        [{"role": "user", "content": "Say yes."}], options=GenerationOptions(temperature=0.0, max_tokens=2)
    )
    assert after.completion_tokens >= 1


def test_a_draft_stops_at_its_time_budget_with_what_it_wrote(generator):
    cancel, opened = CancelToken(max_seconds=1.5), threading.Event()
    started = time.perf_counter()
    thread, outcome = deep_generation(generator, cancel, opened, grammar=GRAMMAR)
    thread.join(30)
    if "result" in outcome:  # a quick machine wrote the whole query inside the budget
        assert time.perf_counter() - started < 1.6
        return
    assert isinstance(outcome.get("error"), BudgetExceeded), outcome
    assert outcome["at"] - started < 2.5
    assert outcome["error"].partial.finish_reason == "time"
