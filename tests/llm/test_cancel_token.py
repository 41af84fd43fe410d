"""The cancel token: an abort from outside, or the deadline of the answer's time budget."""

from __future__ import annotations

import threading
import time

import pytest

from analytics_chat.llm.base import BudgetExceeded, CancelToken, GenerationAborted, GenerationResult


def test_without_a_deadline_only_an_abort_fires_it():
    token = CancelToken()
    assert not token.cancelled and token.remaining() is None
    token.cancel()
    assert token.cancelled and not token.expired
    error = token.error(GenerationResult(text="SEL", finish_reason="aborted"))
    assert type(error) is GenerationAborted and error.partial.finish_reason == "aborted"


def test_the_deadline_fires_it_and_says_it_was_the_budget():
    token = CancelToken(max_seconds=0.2)
    assert not token.cancelled and 0 < token.remaining() <= 0.2
    started = time.monotonic()
    assert token.wait(5)  # returns at the deadline, not after 5 s
    assert 0.15 < time.monotonic() - started < 1.0
    assert token.cancelled and token.expired and token.remaining() == 0
    error = token.error(GenerationResult(text="SELECT", finish_reason="aborted"))
    assert isinstance(error, BudgetExceeded) and error.max_seconds == 0.2
    assert error.partial.finish_reason == "time" and error.partial.text == "SELECT"
    token.cancel()  # an abort after the deadline does not rewrite why it stopped
    assert token.expired
    with pytest.raises(BudgetExceeded):
        token.raise_if_cancelled()


def test_a_reserve_stops_the_work_early_but_keeps_the_budget_it_reports():
    token = CancelToken(max_seconds=0.6, reserve=0.4)
    started = time.monotonic()
    assert token.wait(5)
    assert 0.15 < time.monotonic() - started < 0.5, "the work stops 0.4 s before the 0.6 s budget"
    assert token.expired
    error = token.error(GenerationResult(text="", finish_reason="aborted"))
    assert isinstance(error, BudgetExceeded) and error.max_seconds == 0.6


def test_an_abort_before_the_deadline_is_an_abort():
    token = CancelToken(max_seconds=30)
    token.cancel()
    assert token.cancelled and not token.expired
    assert type(token.error()) is GenerationAborted


def test_callbacks_run_once_at_the_deadline_without_anyone_polling():
    token = CancelToken(max_seconds=0.2)
    fired = threading.Event()
    calls = []
    token.on_cancel(lambda: (calls.append(1), fired.set()))
    assert fired.wait(2), "the deadline did not run the callback"
    token.cancel()
    time.sleep(0.05)
    assert calls == [1]
    late = []
    token.on_cancel(lambda: late.append(1))  # registered after it fired: runs at once
    assert late == [1]


def test_an_unregistered_callback_does_not_run():
    token = CancelToken()
    calls = []
    unregister = token.on_cancel(lambda: calls.append(1))
    unregister()
    token.cancel()
    assert calls == []


def test_the_current_token_is_the_bound_one():
    token = CancelToken()
    assert CancelToken.current() is None
    with token.bound():
        assert CancelToken.current() is token
    assert CancelToken.current() is None
