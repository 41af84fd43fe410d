"""How many of the machine's cores other processes leave free, so llama.cpp runs no more threads than that.

llama.cpp's threads meet at a spinning barrier after every graph node. With as many threads as cores and
another busy process beside them, one thread may be descheduled while the others spin for it: a token
then costs several times its share of the CPU (4 to 25 times was seen on one 2-core machine). With one
thread fewer per core taken, the barrier has no one to wait for. On another 2-core machine (llama.cpp
built with OpenMP) a thread per core already slowed by about the share of CPU it lost, and fitting the
threads gained nothing (README, "A shared CPU"), so this is off by default (``LLM["ADAPT_THREADS"]``).

The reading comes from ``/proc/stat`` (all CPU time) minus ``/proc/self/stat`` (this process's own), over
the last second, sampled by a daemon thread: the model's own threads never count as load, nor do
processes of a lower priority (niced), which give way to it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SAMPLE_SECONDS = 0.5
# A core counts as free when others leave at least this much of it: background noise (a browser tab,
# the web process) keeps the cores, a CPU-bound neighbour takes one.
FREE_SHARE = 0.75


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.monotonic()
    busy_ticks: int  # every process's user+system time, all cores
    own_ticks: int  # this process's user+system time


def read_sample() -> CpuSample | None:
    """CPU time so far, or None where ``/proc`` is not there (not Linux)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        with open("/proc/self/stat") as own:
            # the command name may hold spaces: the fields after it start past the last ')'
            rest = own.read().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    # Processes of a lower priority (their user time is "nice") give way to ours when we want the cores;
    # counted as load they would keep the model at one thread and the cores to themselves. Unless we are
    # niced ourselves: then our own time is in that column.
    lower_priority = 0 if os.getpriority(os.PRIO_PROCESS, 0) > 0 else nice
    return CpuSample(
        at=time.monotonic(),
        busy_ticks=user + nice - lower_priority + system + irq + softirq + steal,
        own_ticks=int(rest[11]) + int(rest[12]),  # utime, stime
    )


def cores_used_by_others(before: CpuSample, after: CpuSample) -> float:
    """How many cores other processes kept busy between two samples.

    >>> cores_used_by_others(CpuSample(0.0, 1000, 50), CpuSample(1.0, 1000 + 150, 50 + 100))
    0.5
    """
    seconds = after.at - before.at
    if seconds <= 0:
        return 0.0
    others = (after.busy_ticks - before.busy_ticks) - (after.own_ticks - before.own_ticks)
    return max(0.0, others / TICKS_PER_SECOND / seconds)


def threads_for(most: int, cores: int, used_by_others: float) -> int:
    """Threads to run: the cores others leave free, at least one and at most ``most``.

    >>> threads_for(2, 2, 0.1), threads_for(2, 2, 0.9), threads_for(2, 2, 2.0), threads_for(4, 8, 1.0)
    (2, 1, 1, 4)
    """
    free = cores - used_by_others
    return max(1, min(most, int(free + (1 - FREE_SHARE))))


class FreeCores:
    """A daemon thread that keeps the last second's reading of the cores other processes use."""

    def __init__(self, cores: int | None = None):
        self.cores = cores or os.cpu_count() or 1
        self._used_by_others = 0.0
        self._samples: list[CpuSample] = []
        first = read_sample()
        if first is None:
            return  # no /proc: every core counts as free
        self._samples.append(first)
        threading.Thread(target=self._run, name="free-cores", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            sample = read_sample()
            if sample is None:
                return
            self._samples = [s for s in self._samples if sample.at - s.at <= 1.0 + SAMPLE_SECONDS / 2]
            self._used_by_others = cores_used_by_others(self._samples[0], sample)
            self._samples.append(sample)

    def threads(self, most: int) -> int:
        return threads_for(most, self.cores, self._used_by_others)

    @property
    def used_by_others(self) -> float:
        return self._used_by_others
