"""The real model: a GGUF file run by llama.cpp through llama-cpp-python.

Speed on a 2-core CPU comes from not reading the same prompt twice:

- within the loaded context, the longest common prefix of the tokens already in the KV cache
  (``Llama._input_ids``) and the new prompt is kept and only the rest is evaluated;
- the first message (system prompt and a source's schema) is the prefix that repeats across questions:
  its KV state is saved once in a small LRU, so switching between sources restores it instead of
  re-reading it.

- saved prefixes are also written to disk (``DATA_DIR/prefix_states/<model file hash>-<llama.cpp
  version>/<context size>-<prompt hash>.kv``: the prefix's tokens, then its KV bytes) and read back on
  demand, so a restarted worker restores a source's prefix instead of reading it again. Files are keyed
  by the prompt itself, so a changed catalog or semantic layer makes new ones. A caller names the prefix's
  owner (``prefix_owner``, a source name): its files carry that name, and ``forget_prefix_files`` removes
  them when the source's catalog or semantic layer changes. Beyond ``PREFIX_FILES`` the least recently
  used go too.

Abort works inside llama.cpp: an abort callback on the context (checked by the CPU backend between graph
nodes) stops a running ``llama_decode`` while it reads a long prompt, and the cancel token is checked
before every generated token.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
from django.conf import settings
from llama_cpp import Llama
from llama_cpp import _internals as llama_internals
from llama_cpp.llama_grammar import json_schema_to_gbnf

from analytics_chat.llm.base import (
    CancelToken,
    GenerationAborted,
    GenerationOptions,
    GenerationResult,
    TextCallback,
)
from analytics_chat.llm.chat_format import CHAT_FORMATS
from analytics_chat.llm.cpu import FreeCores
from analytics_chat.llm.errors import InvalidGrammar, ModelUnavailable, PromptTooLong
from analytics_chat.llm.files import GGUF_MAGIC, owner_tag, prefix_root, resolve_model_path
from analytics_chat.llm.sampling import CharTokens, GrammarCheckedSampler, repeats_itself
from analytics_chat.llm.streaming import TextAssembler
from analytics_chat.models import LLMModel

# llama.cpp's own defaults, used when neither the request nor the model's default_options set a value.
SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.95,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
}
PENALTY_LAST_N = 64
GRAMMAR_CACHE_SIZE = 32
DECODE_ABORTED = "llama_decode returned 2"
log = logging.getLogger(__name__)


@functools.cache
def shared_free_cores() -> FreeCores:
    """One sampler per process, however many models it loads."""
    return FreeCores()


class _Aborted(Exception):
    """Internal: the cancel token fired; turned into GenerationAborted with the partial result."""


@dataclass
class _PrefixState:
    tokens: list[int]
    kv: bytes  # llama_state_seq_get_data of sequence 0, exactly these tokens


class PrefixStateCache:
    """LRU of saved KV states of prompt prefixes, bounded by entry count and bytes."""

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _PrefixState] = OrderedDict()

    @staticmethod
    def key(tokens: list[int]) -> str:
        return hashlib.sha256(json.dumps(tokens).encode()).hexdigest()

    def get(self, key: str) -> _PrefixState | None:
        state = self._entries.get(key)
        if state is not None:
            self._entries.move_to_end(key)
        return state

    def put(self, key: str, state: _PrefixState) -> None:
        if len(state.kv) > self.max_bytes or self.max_entries <= 0:
            return
        self._entries[key] = state
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries or self.total_bytes > self.max_bytes:
            self._entries.popitem(last=False)

    def sharing_most(self, tokens: list[int]) -> tuple[_PrefixState | None, int]:
        """The saved state whose tokens begin like ``tokens`` for longest, and for how many tokens."""
        best, shared = None, 0
        for state in self._entries.values():
            length = _common_prefix_length(state.tokens, tokens)
            if length > shared:
                best, shared = state, length
        return best, shared

    def states(self) -> list[_PrefixState]:
        """The saved states, least recently used first."""
        return list(self._entries.values())

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return sum(len(s.kv) for s in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


class GrammarCache:
    """Parsed grammar samplers by grammar text hash; each generation gets a cheap clone (no re-parse)."""

    def __init__(self, vocab: Any, size: int = GRAMMAR_CACHE_SIZE):
        self._vocab = vocab
        self._size = size
        self._samplers: OrderedDict[str, Any] = OrderedDict()

    def clone_for(self, gbnf: str) -> Any:
        key = hashlib.sha256(gbnf.encode()).hexdigest()
        template = self._samplers.get(key)
        if template is None:
            template = llama_cpp.llama_sampler_init_grammar(self._vocab, gbnf.encode(), b"root")
            if not template:
                raise InvalidGrammar(
                    "grammar: llama.cpp could not parse this GBNF grammar (is there a 'root' rule?)"
                )
            self._samplers[key] = template
            while len(self._samplers) > self._size:
                llama_cpp.llama_sampler_free(self._samplers.popitem(last=False)[1])
        self._samplers.move_to_end(key)
        return llama_cpp.llama_sampler_clone(template)

    def close(self) -> None:
        while self._samplers:
            llama_cpp.llama_sampler_free(self._samplers.popitem()[1])


class LlamaGenerator:
    """A loaded GGUF model; one generation at a time (a lock), prefix KV states kept between calls."""

    def __init__(self, model: LLMModel):
        self.name = model.name
        self.context_size = model.context_size
        self.default_options = dict(model.default_options or {})
        chat_format = CHAT_FORMATS.get(model.chat_format)
        if chat_format is None:
            raise ModelUnavailable(
                f"model {model.name}: chat format {model.chat_format!r} is not supported "
                f"(supported: {', '.join(CHAT_FORMATS)})"
            )
        self.chat_format = chat_format
        self.path = resolve_model_path(model.path)
        self._check_file(model)
        # settings.LLM["THREADS"] overrides one-per-core for rows that leave threads empty.
        threads = model.threads or settings.LLM["THREADS"] or os.cpu_count() or 1
        try:
            self._llama = Llama(
                model_path=str(self.path),
                n_ctx=model.context_size,
                n_batch=model.batch_size,
                n_threads=threads,
                n_threads_batch=threads,
                last_n_tokens_size=PENALTY_LAST_N,
                verbose=False,
            )
        except Exception as error:  # llama.cpp reports a bad file only as a generic failure
            raise ModelUnavailable(
                f"model {model.name}: llama.cpp could not load {self.path}: {error}"
            ) from error
        self._vocab = self._llama._model.vocab
        self._most_threads = threads
        self._threads = threads
        # Fewer threads while other processes keep cores busy (see llm.cpu); off: always ``threads``.
        self._free_cores = shared_free_cores() if settings.LLM["ADAPT_THREADS"] else None
        self._lock = threading.Lock()
        # Questions waiting for the model: a background read (warm-up) stops for them at once.
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._background = False
        self._cancel: CancelToken | None = None
        # An exception a signal handler raised inside the abort callback (Celery's soft time limit):
        # ctypes would swallow it there, so it stops the decode and is raised again once out of C.
        self._interrupt: BaseException | None = None
        self._prefix_states = PrefixStateCache(
            max_entries=settings.LLM["PREFIX_CACHE_ENTRIES"],
            max_bytes=settings.LLM["PREFIX_CACHE_BYTES"],
        )
        self._min_prefix_tokens = settings.LLM["MIN_PREFIX_TOKENS"]
        identity = (
            model.sha256[:16] if model.sha256 else hashlib.sha256(str(self.path).encode()).hexdigest()[:16]
        )
        self._state_dir = prefix_root() / f"{identity}-{llama_cpp.__version__}"
        self._prefix_owner = ""  # of the running call
        self._max_state_files = settings.LLM["PREFIX_FILES"]
        self._files_skipped_once = False
        self._grammars = GrammarCache(self._vocab)
        self._char_tokens = CharTokens(
            lambda text: self._tokenize(text, special=False), llama_cpp.llama_vocab_eos(self._vocab)
        )
        # Called by the CPU backend from inside llama_decode: must stay cheap and never raise.
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)
        llama_cpp.llama_set_abort_callback(self._llama.ctx, self._abort_callback, None)

    def _check_file(self, model: LLMModel) -> None:
        if not self.path.is_file():
            raise ModelUnavailable(
                f"model {model.name}: file {self.path} is missing (run `python manage.py fetch_model {model.name}`)"
            )
        size = self.path.stat().st_size
        if model.size_bytes and size != model.size_bytes:
            raise ModelUnavailable(
                f"model {model.name}: file {self.path} is {size:,} bytes, registered as {model.size_bytes:,} "
                "(incomplete or replaced; fetch it again)"
            )
        with self.path.open("rb") as handle:
            if handle.read(4) != GGUF_MAGIC:
                raise ModelUnavailable(f"model {model.name}: {self.path} is not a GGUF file")

    def _should_abort(self, _data: Any) -> bool:
        try:
            cancel = self._cancel
            return (
                self._interrupt is not None
                or (cancel is not None and cancel.cancelled)
                or (self._background and self._waiting > 0)
            )
        except BaseException as exc:  # a signal handler's exception: raised again after the decode
            self._interrupt = exc
            return True

    # --- public API ---------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text, special=False))

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        options: GenerationOptions,
        grammar: str | None = None,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
        cancel: CancelToken | None = None,
        prefix_owner: str = "",
        background: bool = False,
    ) -> GenerationResult:
        """A chat completion; ``background`` (warm-up) gives way to any call that is not (see ``warm``).
        ``prefix_owner`` names whose prompt this is (a source), so its saved prefix can be forgotten."""
        if grammar and json_schema:
            raise ValueError("give either grammar or json_schema, not both")
        if json_schema is not None:
            # No sort_keys: the property order of the schema is the order in which the model writes.
            grammar = _schema_grammar(json.dumps(json_schema))
        merged = options.merged_over({**SAMPLING_DEFAULTS, **self.default_options})
        with self._model_lock(background):
            self._cancel = cancel
            self._interrupt = None
            self._background = background
            self._prefix_owner = prefix_owner
            try:
                return self._complete(
                    messages, merged, grammar, on_text or (lambda _piece: None), json_schema is not None
                )
            finally:
                self._cancel = None
                self._interrupt = None
                self._background = False
                self._prefix_owner = ""

    def warm(
        self, messages: list[dict[str, str]], cancel: CancelToken | None = None, prefix_owner: str = ""
    ) -> bool:
        """Read the prompt's reusable prefix in the background (a worker's warm-up): a question that wants
        the model stops the read within one graph node and goes first; the read starts again once the
        model is free. True once read; False if ``cancel`` fired first."""
        options = GenerationOptions(temperature=0.0, max_tokens=1)
        while True:
            try:
                self.complete(
                    messages, options=options, cancel=cancel, prefix_owner=prefix_owner, background=True
                )
                return True
            except GenerationAborted:
                if cancel is not None and cancel.cancelled:
                    return False
            while self._waiting or self._lock.locked():  # a question has the model: wait for it
                if cancel is not None and cancel.wait(0.05):
                    return False
                time.sleep(0.05)

    @contextlib.contextmanager
    def _model_lock(self, background: bool):
        if background:
            with self._lock:
                yield
            return
        with self._waiting_lock:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def replay(self, messages: list[dict[str, str]], text: str) -> GenerationResult:
        """Time the model writing ``text`` as its answer, without choosing it: the prompt is read as in
        ``complete`` (saved prefixes reused), then each token of ``text`` is decoded alone, as sampling
        would decode it: the floor of writing this text one token per decode (``evaluate --floor``).
        """
        with self._lock:
            started = time.perf_counter()
            prompt, prefix_len = self._render(messages)
            result = GenerationResult(text=text, finish_reason="stop", prompt_tokens=len(prompt))
            result.cached_prompt_tokens = self._reuse_prefix(prompt, prefix_len)
            self._eval_prompt(prompt, prefix_len)
            result.prompt_ms = result.first_token_ms = _ms_since(started)
            writing_started = time.perf_counter()
            for token in self._tokenize(text, special=False):
                self._eval([token])
                result.completion_tokens += 1
            result.generation_ms = _ms_since(writing_started)
            return result

    def forget_prompts(self, keep_files: bool = False) -> None:
        """Drop every evaluated prompt (KV cache and saved prefixes): the next call reads all of its prompt,
        or, with ``keep_files``, restores its prefix from disk if one was saved (what a restart keeps).

        Only benchmarks want this; the service never throws evaluated prefixes away.
        """
        with self._lock:
            self._prefix_states.clear()
            self._files_skipped_once = not keep_files  # whether the next call may read a prefix from disk
            self._llama._ctx.kv_cache_seq_rm(-1, 0, -1)
            self._llama.n_tokens = 0

    def close(self) -> None:
        with self._lock:
            self._prefix_states.clear()
            self._grammars.close()
            self._llama.close()

    @property
    def prefix_cache(self) -> PrefixStateCache:
        return self._prefix_states

    # --- one generation -----------------------------------------------------------------------

    def _complete(
        self,
        messages: list[dict[str, str]],
        opts: GenerationOptions,
        grammar: str | None,
        on_text: TextCallback,
        jump_forward: bool = False,
    ) -> GenerationResult:
        started = time.perf_counter()
        prompt, prefix_len = self._render(messages)
        sampler = self._sampler(
            opts, grammar, jump_forward
        )  # before any evaluation: a bad grammar fails fast
        result = GenerationResult(text="", finish_reason="aborted", prompt_tokens=len(prompt))
        try:
            result.cached_prompt_tokens = self._reuse_prefix(prompt, prefix_len)
            self._eval_prompt(prompt, prefix_len)
            result.prompt_ms = _ms_since(started)
            self._generate(sampler, opts, on_text, result, started)
        except _Aborted:
            if self._interrupt is not None:  # not the user's abort: e.g. the task's time limit
                raise self._interrupt from None
            if not result.prompt_ms:
                result.prompt_ms = _ms_since(started)
            raise (self._cancel or CancelToken()).error(result) from None
        finally:
            sampler.close()
        return result

    def _render(self, messages: list[dict[str, str]]) -> tuple[list[int], int]:
        """The prompt's tokens, and how many of them are the reusable prefix; PromptTooLong if it leaves
        no room in the context."""
        segments = self.chat_format.render(
            messages, lambda text, special: self._tokenize(text, special=special)
        )
        prompt = [token for segment in segments for token in segment]
        if len(prompt) >= self.context_size:
            raise PromptTooLong(len(prompt), self.context_size)
        # The first message is the reusable prefix when something follows it.
        return prompt, (len(segments[0]) if len(messages) > 1 else 0)

    def _reuse_prefix(self, prompt: list[int], prefix_len: int) -> int:
        """Keep what the KV cache already holds of this prompt (restoring a saved prefix if better)."""
        llama = self._llama
        common = _common_prefix_length(llama._input_ids.tolist(), prompt)
        if prefix_len >= self._min_prefix_tokens and common < prefix_len:
            key = PrefixStateCache.key(prompt[:prefix_len])
            state, restored = self._prefix_states.get(key), prefix_len
            if state is None and not self._files_skipped_once:
                state = self._read_prefix_file(key)
            if state is None:  # another saved prefix may begin the same way (every source's SQL instructions)
                state, restored = self._prefix_states.sharing_most(prompt[:prefix_len])
                if restored < max(common + 1, self._min_prefix_tokens):
                    state = None
            if state is not None:
                common = restored if self._restore(state) else 0  # a failed restore left the cache empty
        self._files_skipped_once = False
        # At least one prompt token is evaluated so that fresh logits exist to sample from.
        common = min(common, len(prompt) - 1)
        if not llama._ctx.kv_cache_seq_rm(-1, common, -1):
            common = 0
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        llama.n_tokens = common
        return common

    def _eval_prompt(self, prompt: list[int], prefix_len: int) -> None:
        llama = self._llama
        prefix_key = (
            PrefixStateCache.key(prompt[:prefix_len]) if prefix_len >= self._min_prefix_tokens else None
        )
        position = llama.n_tokens
        while position < len(prompt):
            end = min(len(prompt), position + llama.n_batch)
            if position < prefix_len < end:
                end = prefix_len  # stop at the prefix boundary so its state can be saved alone
            self._eval(prompt[position:end])
            position = end
            if position == prefix_len and prefix_key is not None and prefix_key not in self._prefix_states:
                state = self._save(prompt[:prefix_len])
                self._prefix_states.put(prefix_key, state)
                self._write_prefix_file(prefix_key, state)

    def _generate(
        self,
        sampler: llama_internals.LlamaSampler | GrammarCheckedSampler,
        opts: GenerationOptions,
        on_text: TextCallback,
        result: GenerationResult,
        started: float,
    ) -> None:
        llama = self._llama
        assembler = TextAssembler(opts.stop)
        room = self.context_size - llama.n_tokens
        max_tokens = min(opts.max_tokens, room) if opts.max_tokens and opts.max_tokens > 0 else room
        writing_started = time.perf_counter()
        result.finish_reason = "aborted"  # until the loop ends by itself
        constrained = isinstance(sampler, GrammarCheckedSampler)
        tokens: list[int] = []
        try:
            while result.completion_tokens < max_tokens:
                self._check_cancel()
                token = sampler.sample(llama._ctx, -1)
                if result.first_token_ms is None:
                    result.first_token_ms = _ms_since(started)
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    result.finish_reason = "stop"
                    break
                written = [token]
                forced, complete = ("", False)
                if isinstance(sampler, GrammarCheckedSampler):
                    forced, complete = sampler.forced_text()
                    if not complete:
                        # Leave trailing punctuation to the model: it merges with what comes next
                        # ('": ["' is one token), and a split the model never saw derails it.
                        forced = _TRAILING_PUNCTUATION.sub("", forced)
                if forced:
                    room_left = max_tokens - result.completion_tokens - 1
                    appended = self._tokenize(forced, special=False)[:room_left]
                    for extra in appended:
                        sampler.accept(extra)
                    written += appended
                    result.forced_tokens += len(appended)
                result.completion_tokens += len(written)
                piece = assembler.feed(llama._model.detokenize(written, special=False))
                if piece:
                    on_text(piece)
                tokens += written
                if constrained and repeats_itself(tokens):
                    # A constrained draft in a loop (SQL, JSON) never leaves it: stop with what it has.
                    result.finish_reason = "repetition"
                    break
                if assembler.stopped or complete:
                    # A complete grammar allows only the end: no need to decode and sample it.
                    result.finish_reason = "stop"
                    break
                if result.completion_tokens < max_tokens:
                    self._eval(written)  # the sampled token and any forced ones, in one batch
            else:
                result.finish_reason = "length"
        finally:
            # An aborted result carries the text so far, and the stream gets every character it counts.
            tail = assembler.finish()
            if tail:
                on_text(tail)
            result.text = assembler.text
            result.generation_ms = _ms_since(writing_started)

    # --- llama.cpp plumbing -------------------------------------------------------------------

    def _eval(self, tokens: list[int]) -> None:
        """Evaluate at most one batch; on abort drop the half-read batch so the cache stays consistent."""
        self._check_cancel()
        llama = self._llama
        self._fit_threads()
        try:
            llama.eval(tokens)
        except RuntimeError as error:
            # Llama.eval updates n_tokens/_input_ids only after a successful decode: drop the rest.
            llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
            if DECODE_ABORTED in str(error):
                raise _Aborted from None
            raise

    def _fit_threads(self) -> None:
        """Run as many threads as the cores that other processes leave free (read every half second)."""
        if self._free_cores is None:
            return
        wanted = self._free_cores.threads(self._most_threads)
        if wanted != self._threads:
            log.info("llama.cpp threads %d -> %d (other processes use %.1f cores)", self._threads, wanted,
                     self._free_cores.used_by_others)  # fmt: skip
            self._fit_threads_to(wanted)

    def _fit_threads_to(self, threads: int) -> None:
        llama_cpp.llama_set_n_threads(self._llama.ctx, threads, threads)
        self._threads = threads

    @property
    def threads(self) -> int:
        """The threads llama.cpp runs now."""
        return self._threads

    def _check_cancel(self) -> None:
        if self._should_abort(None):
            raise _Aborted

    def _save(self, tokens: list[int]) -> _PrefixState:
        ctx = self._llama.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        # string_at copies the bytes once; slicing a ctypes array would build a list of ints first
        # (hundreds of MiB for a long prefix).
        return _PrefixState(tokens=list(tokens), kv=ctypes.string_at(buffer, written))

    def _prefix_file(self, key: str) -> Path:
        return self._state_dir / f"{self.context_size}-{key}{owner_tag(self._prefix_owner)}.kv"

    def _write_prefix_file(self, key: str, state: _PrefixState) -> None:
        """Write a saved prefix to disk (atomically) and drop the least recently used files beyond the cap."""
        try:
            self._state_dir.mkdir(parents=True, exist_ok=True)
            header = json.dumps(state.tokens).encode()
            path = self._prefix_file(key)
            partial = path.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(len(header).to_bytes(8, "little") + header + state.kv)
            partial.replace(path)
            files = sorted(self._state_dir.glob("*.kv"), key=lambda f: f.stat().st_mtime, reverse=True)
            for stale in files[self._max_state_files :]:
                stale.unlink(missing_ok=True)
        except OSError as error:  # a full or read-only disk costs a re-read after a restart, nothing more
            log.warning("could not write the prefix state %s: %s", key, error)

    def _read_prefix_file(self, key: str) -> _PrefixState | None:
        path = self._prefix_file(key)
        try:
            data = path.read_bytes()
            size = int.from_bytes(data[:8], "little")
            state = _PrefixState(tokens=json.loads(data[8 : 8 + size]), kv=data[8 + size :])
            os.utime(path)  # recently used: kept when older files go
        except (OSError, ValueError):
            return None
        if PrefixStateCache.key(state.tokens) != key:
            return None
        self._prefix_states.put(key, state)
        return state

    def _restore(self, state: _PrefixState) -> bool:
        llama = self._llama
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(state.kv)).from_buffer_copy(state.kv)
        if llama_cpp.llama_state_seq_set_data(llama.ctx, buffer, len(state.kv), 0) != len(state.kv):
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
            llama.n_tokens = 0
            return False
        llama.input_ids[: len(state.tokens)] = state.tokens
        llama.n_tokens = len(state.tokens)
        return True

    def _sampler(
        self, opts: GenerationOptions, grammar: str | None, jump_forward: bool = False
    ) -> llama_internals.LlamaSampler | GrammarCheckedSampler:
        """The llama.cpp sampler chain for these options; a grammar is checked on the chosen token first.

        ``jump_forward`` (JSON schemas): text the grammar dictates is appended rather than sampled. Not for
        free-form grammars such as SQL, where the split of forced text into tokens was measured to change
        what the model writes next (on the Spider sample it cost 4 right answers and won none).
        """
        chain = self._sampler_chain(opts)
        assert opts.temperature is not None  # merged over SAMPLING_DEFAULTS, which set every option
        if not grammar:
            return chain
        try:
            n_vocab = self._llama.n_vocab()
            return GrammarCheckedSampler(
                chain,
                self._grammars.clone_for(grammar),
                n_vocab,
                self._char_tokens if jump_forward else None,
                keep=1
                if opts.temperature <= 0
                else (opts.top_k if opts.top_k and opts.top_k > 0 else n_vocab),
                check_cancel=self._check_cancel,
            )
        except Exception:
            chain.close()
            raise

    def _sampler_chain(self, opts: GenerationOptions) -> llama_internals.LlamaSampler:
        """Penalties, then greedy or top-k/top-p/min-p/temperature/dist (llama-cpp-python's order)."""
        # Merged over SAMPLING_DEFAULTS, which set every one of them.
        assert opts.repeat_penalty is not None and opts.frequency_penalty is not None
        assert opts.presence_penalty is not None and opts.temperature is not None
        assert opts.top_k is not None and opts.top_p is not None and opts.min_p is not None
        sampler = llama_internals.LlamaSampler()
        try:
            sampler.add_penalties(
                n_vocab=self._llama.n_vocab(),
                penalty_last_n=PENALTY_LAST_N,
                penalty_repeat=opts.repeat_penalty,
                penalty_freq=opts.frequency_penalty,
                penalty_present=opts.presence_penalty,
            )
            seed = llama_cpp.LLAMA_DEFAULT_SEED if opts.seed is None else opts.seed & 0xFFFFFFFF
            if opts.temperature <= 0:
                sampler.add_greedy()
            else:
                sampler.add_top_k(opts.top_k)
                sampler.add_top_p(opts.top_p, 1)
                sampler.add_min_p(opts.min_p, 1)
                sampler.add_temp(opts.temperature)
                sampler.add_dist(seed)
        except Exception:
            sampler.close()
            raise
        return sampler

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)


_TRAILING_PUNCTUATION = re.compile(r"[^A-Za-z0-9_]+$")
_JSON_SPACE_RULE = re.compile(r"^space ::= .*$", re.MULTILINE)


@functools.lru_cache(maxsize=GRAMMAR_CACHE_SIZE)
def _schema_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema (converted once per distinct schema), spaced exactly as ``json.dumps``.

    One way to space the JSON (``{"a": [1, 2]}``, as models see it most) instead of optional spaces
    everywhere: then a key, a colon or a bracket that must come next is the only way on, and the generator
    appends it instead of sampling it.
    """
    try:
        grammar = json_schema_to_gbnf(schema_json)
    except Exception as error:
        raise InvalidGrammar(f"json_schema: cannot be turned into a grammar: {error}") from error
    grammar = grammar.replace('"," space', '", "').replace('":" space', '": "')
    return _JSON_SPACE_RULE.sub('space ::= ""', grammar)


def _common_prefix_length(a: list[int], b: list[int]) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
