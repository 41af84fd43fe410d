"""Sampling with a grammar that is asked about the chosen token first, not about the whole vocabulary.

Constraining first makes every token pay for matching all ~151k vocabulary entries against the grammar
(measured by the engine work: 45-440 ms a token for a SQL grammar, more than the 1.5B model's own ~50 ms).
Like llama.cpp's ``common_sampler``, this samples without the grammar, asks the grammar only about the
chosen token, and only when it is refused constrains the full vocabulary and samples again. The result
is a token the grammar allows, drawn as if the grammar had been applied first (it only removes tokens).

Where the grammar leaves exactly one way to go on (the rest of an enum name, the ``"]`` after a list's
last item, a key that must come next), ``forced_text`` says so, and the generator appends those
characters without asking the model: one batched decode instead of one sampled token each
("jump-forward" decoding).

When the chosen token is refused, the grammar is not run over the whole vocabulary at once (150k tokens
times every live parse stack: hundreds of ms a token, seconds deep in a query) but over the candidates
in order of their logits, a batch at a time, until enough of them are allowed (one for greedy decoding,
``top_k`` when sampling). The cancel check runs between batches, so an abort stops a grammar check too.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import _internals as llama_internals

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
CANDIDATE_BATCH = 512  # candidates the grammar checks at once when the first choice was refused


class CharTokens:
    """The single-character tokens of printable ASCII, and the end-of-generation token: what
    ``forced_text`` asks the grammar about, one character at a time."""

    def __init__(self, tokenize: Any, eog: int):
        chars, ids = [], []
        for code in range(32, 127):
            tokens = tokenize(chr(code))
            if len(tokens) == 1:
                chars.append(chr(code))
                ids.append(tokens[0])
        self.chars = chars
        self.eog = eog
        self.ids = np.array([*ids, eog], dtype=np.int32)


class GrammarCheckedSampler:
    """A sampler chain plus a grammar checked on the chosen token. Has ``sample``, ``accept``,
    ``forced_text`` and ``close``."""

    def __init__(
        self,
        chain: llama_internals.LlamaSampler,
        grammar: Any,
        n_vocab: int,
        char_tokens: CharTokens | None = None,
        *,
        keep: int = 1,
        check_cancel: Callable[[], None] = lambda: None,
    ):
        self.chain = chain  # penalties, then greedy or top-k/top-p/min-p/temperature/dist; no grammar
        self.grammar = grammar  # a llama.cpp grammar sampler pointer, owned here
        self.n_vocab = n_vocab
        self.char_tokens = char_tokens
        self.fallbacks = 0  # how often the unconstrained choice was refused
        # Allowed candidates to collect before the chain chooses: 1 for greedy, top_k for sampling (the
        # chain keeps no more). Exact without penalties; with them, the best after penalties is looked for
        # among the best before.
        self.keep = max(1, min(keep, n_vocab))
        self.check_cancel = check_cancel  # raises when the generation was cancelled
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        if char_tokens is not None:
            self._probe = np.zeros(len(char_tokens.ids), dtype=_TOKEN_DATA)

    def sample(self, ctx: llama_internals.LlamaContext, idx: int = -1) -> int:
        token = self._choose(ctx, idx, constrained=False)
        if not self._allowed(token):
            self.fallbacks += 1
            token = self._choose(ctx, idx, constrained=True)
        # Accept only the final token, so penalties and the grammar see what was really written.
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        """Record a token as written (sampled, or appended from ``forced_text``)."""
        llama_cpp.llama_sampler_accept(self.chain.sampler, token)
        llama_cpp.llama_sampler_accept(self.grammar, token)

    def forced_text(self, limit: int = 64) -> tuple[str, bool]:
        """The characters the grammar allows as the only continuation, and whether it must end there.

        Asks a copy of the grammar about each printable character (and the end token) in turn; stops at
        the first choice, at a character outside printable ASCII, or after ``limit`` characters.
        """
        if self.char_tokens is None:
            return "", False
        table = self.char_tokens
        probe = llama_cpp.llama_sampler_clone(self.grammar)
        data = self._probe
        array = llama_cpp.llama_token_data_array(
            data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), len(data), -1, False
        )
        text: list[str] = []
        try:
            while len(text) < limit:
                data["id"] = table.ids
                data["logit"] = 0.0
                array.size, array.selected, array.sorted = len(data), -1, False
                llama_cpp.llama_sampler_apply(probe, ctypes.byref(array))
                allowed = np.flatnonzero(data["logit"][: len(data)] != -np.inf)
                if len(allowed) != 1:
                    return "".join(text), False
                index = int(allowed[0])
                if index == len(table.chars):  # only the end token: the grammar is complete
                    return "".join(text), True
                text.append(table.chars[index])
                llama_cpp.llama_sampler_accept(probe, int(table.ids[index]))
            return "".join(text), False
        finally:
            llama_cpp.llama_sampler_free(probe)

    def close(self) -> None:
        self.chain.close()
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None

    def _choose(self, ctx: llama_internals.LlamaContext, idx: int, *, constrained: bool) -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        data = self._data
        if constrained:
            count = self._allowed_candidates(logits)
        else:
            data["id"] = self._ids
            data["logit"] = logits
            count = self.n_vocab
        data["p"][:count] = 0.0
        candidates = llama_cpp.llama_token_data_array(
            data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), count, -1, False
        )
        llama_cpp.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
        if candidates.selected < 0:
            raise RuntimeError("the sampler chain selected no token")
        return int(candidates.data[candidates.selected].id)

    def _allowed_candidates(self, logits: np.ndarray) -> int:
        """Put the best allowed candidates first in ``self._data`` (at least ``keep`` of them, if the
        grammar allows as many); returns how many."""
        order = np.argsort(-logits, kind="stable")
        data = self._data
        found = 0
        for start in range(0, self.n_vocab, CANDIDATE_BATCH):
            self.check_cancel()
            batch = order[start : start + CANDIDATE_BATCH]
            window = data[found : found + len(batch)]
            window["id"] = batch
            window["logit"] = logits[batch]
            array = llama_cpp.llama_token_data_array(
                window.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), len(batch), -1, False
            )
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(array))
            allowed = window[window["logit"] != -np.inf].copy()
            data[found : found + len(allowed)] = allowed
            found += len(allowed)
            if found >= self.keep:
                break
        if not found:
            raise RuntimeError("the grammar allows no token here")
        return found

    def _allowed(self, token: int) -> bool:
        cell = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        single = llama_cpp.llama_token_data_array(cell, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(single))
        return cell[0].logit != float("-inf")


def repeats_itself(
    tokens: list[int], *, min_span: int = 24, max_period: int = 32, min_repeats: int = 3
) -> bool:
    """Whether the last tokens are one block written again and again (at least ``min_repeats`` times, over
    at least ``min_span`` tokens): a greedy draft caught in a loop (``UNION SELECT ... UNION SELECT ...``)
    never leaves it, so the generator stops there instead of writing until ``max_tokens``.

    >>> repeats_itself([1, 2, 3] * 8)
    True
    >>> repeats_itself([1, 2, 3] * 3)  # too short to tell
    False
    >>> repeats_itself(list(range(40)))
    False
    """
    for period in range(1, min(max_period, len(tokens) // min_repeats) + 1):
        repeats = max(min_repeats, -(-min_span // period))
        span = period * repeats
        if span > len(tokens):
            continue
        tail = tokens[-span:]
        if all(tail[i] == tail[i % period] for i in range(period, span)):
            return True
    return False
