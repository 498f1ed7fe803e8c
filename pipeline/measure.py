"""Speed and memory figures for a stretch of work, measured the same way for every system."""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass

__all__ = ["Measurement", "measure"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Measurement:
    """Wall time and the process's peak resident memory while the block ran."""

    seconds: float = 0.0
    peak_rss_mb: float | None = None


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class measure:  # noqa: N801 - used as a context manager, reads like a function
    """``with measure() as m: ...`` fills ``m.seconds`` and ``m.peak_rss_mb``.

    The peak is sampled every 20 ms from ``/proc/self/statm`` (the whole
    process, so it includes the interpreter and the libraries). Where that file
    does not exist, the lifetime peak from ``getrusage`` is reported instead.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.result = Measurement()
        self._interval = interval
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Measurement:
        self._peak = _rss_bytes() or 0
        if self._peak:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        self._start = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.result.seconds = time.perf_counter() - self._start
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes() or 0)
            self.result.peak_rss_mb = round(self._peak / 2**20, 1)
        else:
            self.result.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak = max(self._peak, _rss_bytes() or 0)
