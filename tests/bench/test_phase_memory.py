"""The benchmark's memory sampler attributes a peak to the phase it happened in."""

import numpy as np

from benchmarks.memory import PhaseMemory, current_rss_bytes


def test_peak_is_attributed_to_the_phase_that_allocated():
    with PhaseMemory(interval_s=0.01) as memory:
        memory.phase = "small"
        memory.sample()
        memory.phase = "big"
        block = np.ones(200 * 2**20, np.uint8)  # 200 MiB, touched so it is resident
        memory.sample()
        del block
        memory.phase = "after"
    assert max(memory.peaks, key=memory.peaks.__getitem__) == "big"
    assert memory.peaks["big"] - memory.peaks["small"] >= 150 * 2**20
    assert 0 < current_rss_bytes() < memory.peaks["big"]
