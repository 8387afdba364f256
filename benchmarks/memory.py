"""Peak resident memory per training phase, sampled in a background thread (the phase is whatever the
progress callback last reported), so a benchmark can say where a run's memory peak falls."""

from __future__ import annotations

import os
import threading

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


class PhaseMemory:
    """with PhaseMemory() as memory: ...; memory.phase = "head"; ... memory.peaks → {phase: peak bytes}"""

    def __init__(self, interval_s: float = 0.2):
        self.interval_s = interval_s
        self.phase = "start"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> PhaseMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        phase, rss = self.phase, current_rss_bytes()
        self.peaks[phase] = max(self.peaks.get(phase, 0), rss)

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()
