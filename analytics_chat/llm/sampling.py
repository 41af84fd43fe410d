"""Sampling with a grammar that is asked about the chosen token first, not about the whole vocabulary.

Constraining first makes every token pay for matching all ~151k vocabulary entries against the grammar
(measured by the engine work: 45-440 ms a token for a SQL grammar, more than the 1.5B model's own ~50 ms).
Like llama.cpp's ``common_sampler``, this samples without the grammar, asks the grammar only about the
chosen token, and only when it is refused constrains the full vocabulary and samples again. The result
is a token the grammar allows, drawn as if the grammar had been applied first (it only removes tokens).
"""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import _internals as llama_internals

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class GrammarCheckedSampler:
    """A sampler chain plus a grammar checked on the chosen token. Has ``sample`` and ``close``."""

    def __init__(self, chain: llama_internals.LlamaSampler, grammar: Any, n_vocab: int):
        self.chain = chain  # penalties, then greedy or top-k/top-p/min-p/temperature/dist; no grammar
        self.grammar = grammar  # a llama.cpp grammar sampler pointer, owned here
        self.n_vocab = n_vocab
        self.fallbacks = 0  # how often the unconstrained choice was refused
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)

    def sample(self, ctx: llama_internals.LlamaContext, idx: int = -1) -> int:
        token = self._choose(ctx, idx, constrained=False)
        if not self._allowed(token):
            self.fallbacks += 1
            token = self._choose(ctx, idx, constrained=True)
        # Accept only the final token, so penalties and the grammar see what was really written.
        llama_cpp.llama_sampler_accept(self.chain.sampler, token)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        return token

    def close(self) -> None:
        self.chain.close()
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None

    def _choose(self, ctx: llama_internals.LlamaContext, idx: int, *, constrained: bool) -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        data = self._data
        data["id"] = self._ids
        data["logit"] = logits
        data["p"] = 0.0
        candidates = llama_cpp.llama_token_data_array(
            data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), self.n_vocab, -1, False
        )
        if constrained:
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
        llama_cpp.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
        if candidates.selected < 0:
            raise RuntimeError("the sampler chain selected no token")
        return int(candidates.data[candidates.selected].id)

    def _allowed(self, token: int) -> bool:
        cell = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        single = llama_cpp.llama_token_data_array(cell, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(single))
        return cell[0].logit != float("-inf")
