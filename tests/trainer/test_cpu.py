"""Free cores come from CPU time actually used over a short window, not from the lagging load average."""

import os
import threading
import time

import pytest

from edgetrain_trainer.training.cpu import busy_cores, free_cores

BEFORE = "cpu  1000 0 500 8000 100 0 0 0 0 0"


def test_busy_cores_counts_everything_but_idle_and_iowait():
    # 200 ticks elapse: 150 user + 50 idle → three quarters of the machine busy
    after = "cpu  1150 0 500 8050 100 0 0 0 0 0"
    assert busy_cores(BEFORE, after, cores=4) == pytest.approx(3.0)


def test_an_idle_machine_has_no_busy_cores():
    after = "cpu  1000 0 500 8400 100 0 0 0 0 0"
    assert busy_cores(BEFORE, after, cores=2) == 0.0
    assert busy_cores(BEFORE, BEFORE, cores=2) == 0.0  # no ticks elapsed


def test_a_line_that_is_not_the_aggregate_cpu_line_is_refused():
    with pytest.raises(ValueError, match="aggregate cpu line"):
        busy_cores("cpu0 1 2 3 4 5 6 7 8", BEFORE, cores=2)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_a_core_kept_busy_now_is_not_counted_free():
    cores = os.cpu_count() or 1
    idle = free_cores()
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        time.sleep(0.1)
        busy = free_cores()
    finally:
        stop.set()
        spinner.join()
    assert 1 <= busy <= cores
    if cores > 1 and idle == cores:  # only meaningful when the machine was idle to begin with
        assert busy < cores
