"""Threads follow the cores other processes leave free: read from /proc, with a real busy neighbour."""

from __future__ import annotations

import doctest
import multiprocessing
import os
import time

import pytest

from analytics_chat.llm import cpu


def test_examples():
    result = doctest.testmod(cpu)
    assert result.attempted > 0 and result.failed == 0


def spin(seconds: float, niceness: int = 0) -> None:
    if niceness:
        os.nice(niceness)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def others_over_a_second() -> float:
    start = cpu.read_sample()
    time.sleep(1.0)
    return cpu.cores_used_by_others(start, cpu.read_sample())


def others_beside(niceness: int) -> float:
    """The cores others use while a neighbour spins (at this niceness)."""
    neighbour = multiprocessing.get_context("spawn").Process(target=spin, args=(2.5, niceness))
    neighbour.start()
    try:
        time.sleep(0.8)  # let it start
        return others_over_a_second()
    finally:
        neighbour.join()


@pytest.fixture
def proc():
    if cpu.read_sample() is None:
        pytest.skip("no /proc on this system")
    if os.getpriority(os.PRIO_PROCESS, 0) > 0:
        pytest.skip("the test process itself is niced")


def test_own_work_is_not_load(proc):
    quiet = others_over_a_second()
    start = cpu.read_sample()
    spin(1.0)  # this process's own work
    assert cpu.cores_used_by_others(start, cpu.read_sample()) < quiet + 0.4


def test_a_busy_neighbour_is_load(proc):
    quiet = others_over_a_second()
    # one spinning process takes about a core, or what the machine has left
    assert others_beside(0) > min(quiet + 0.5, (os.cpu_count() or 1) - 0.5)
