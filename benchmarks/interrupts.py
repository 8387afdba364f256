"""`kill` and `timeout` end a benchmark with SIGTERM, which stops Python without running `with` exits or
`finally` blocks: a benchmark holding the local stack, a service or a training would leave them running,
loading the machine for the next measurement. Raised as KeyboardInterrupt, it stops them as Ctrl-C does."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def stop_cleanly_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def map_in_threads(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """list(map(fn, items)) on `workers` threads. Interrupted, it drops the calls not yet started: a plain
    `with ThreadPoolExecutor` can go on running queued calls for minutes against a stack being stopped."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
