"""The end-to-end stage's per-step peak RSS: a spike inside a window is that window's alone."""

from __future__ import annotations

import time

from tooling.bench.steps import PeakSampler

MIB = 1024 * 1024


def test_a_spike_is_found_in_its_window_and_not_after() -> None:
    with PeakSampler(interval=0.01) as sampler:
        time.sleep(0.05)
        before = time.time()
        spike = bytearray(300 * MIB)  # touched: every page is resident
        spike[::4096] = b"x" * len(spike[::4096])
        del spike
        time.sleep(0.05)
        after = time.time()
        time.sleep(0.1)
        end = time.time()
    assert sampler.resets, "this Linux lets a process reset its own peak RSS"
    inside = sampler.peak_mib(before, after)
    later = sampler.peak_mib(after + 0.03, end)
    assert inside - later >= 250, (inside, later)
