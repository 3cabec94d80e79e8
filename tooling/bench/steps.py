"""Each Dagster step's wall time and peak RSS in a run executed in this process.

`passback run` executes its jobs in process, one step after another, so the process's
`ru_maxrss` is the peak of the worst step only. A thread here reads the kernel's high-water
mark (`VmHWM` in /proc/self/status) every few milliseconds and resets it after each read
(`5` into /proc/self/clear_refs, Linux 4.0+): each sample is then the exact peak of its own
interval, however short the spike. A step's peak is the largest sample over the intervals
its start and success events (from the run's event log) span. No psutil: /proc only.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from types import TracebackType

# A stage's figure holding its sampled peak, which the harness prefers to `ru_maxrss` when
# larger: resetting the high-water mark also resets what the kernel reports at exit.
SAMPLED_PEAK = "sampled_peak_rss_mib"
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
_HWM = re.compile(r"VmHWM:\s+(\d+) kB")
_RSS = re.compile(r"VmRSS:\s+(\d+) kB")


def _read_kib(pattern: re.Pattern[str]) -> int:
    found = pattern.search(STATUS.read_text())
    return int(found.group(1)) if found else 0


class PeakSampler:
    """Samples (end of interval, peak RSS in KiB over it) in a daemon thread while active."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.resets = STATUS.exists() and _can_reset()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self.started = 0.0

    def __enter__(self) -> PeakSampler:
        self.started = time.time()
        if STATUS.exists():
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
        self._sample()

    def _sample(self) -> None:
        # Without a reset, VmRSS is the best there is (a spike between reads is missed).
        peak = _read_kib(_HWM if self.resets else _RSS)
        if self.resets:
            CLEAR_REFS.write_text("5")
        self.samples.append((time.time(), peak))

    def peak_mib(self, start: float, end: float) -> float:
        """The peak RSS over [start, end] (wall-clock seconds), in MiB."""
        previous, peak = self.started, 0
        for at, kib in self.samples:
            if at >= start and previous <= end:
                peak = max(peak, kib)
            previous = at
        return round(peak / 1024, 1)


def _can_reset() -> bool:
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def step_figures(run_ids: list[str], sampler: PeakSampler | None = None,
                 ) -> dict[str, dict[str, float]]:
    """Each step's seconds (start to success) and, with a sampler, its peak RSS in MiB."""
    import dagster as dg

    from pipeline.instance import instance

    events = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    started: dict[str, float] = {}
    found: dict[str, dict[str, float]] = {}
    store = instance()
    for run_id in run_ids:
        for record in store.all_logs(run_id, of_type=events):
            event = record.dagster_event
            if event is None or record.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[record.step_key] = record.timestamp
            elif record.step_key in started:
                begin = started[record.step_key]
                found[record.step_key] = {"seconds": round(record.timestamp - begin, 2)}
                if sampler is not None:
                    found[record.step_key]["peak_rss_mib"] = sampler.peak_mib(
                        begin, record.timestamp)
    return found
