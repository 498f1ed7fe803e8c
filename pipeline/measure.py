"""Speed and memory figures, measured the same way for every system.

A speed figure covers only what the model translated: segments found in the
translation cache or read back from an interrupted run's journal took no model
time, so counting them would make a warm cache look like a fast model (and a
resumed run like a fast system). They are counted beside the figure instead.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass

__all__ = ["Measurement", "Speed", "measure"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Measurement:
    """Wall time and the process's peak resident memory while the block ran."""

    seconds: float = 0.0
    peak_rss_mb: float | None = None


@dataclass(frozen=True)
class Speed:
    """How fast a system translated one test set, counting only the segments its model translated.

    Attributes:
        segments_translated: segments the model translated.
        segments_from_cache: segments taken from the translation cache (no model time).
        segments_resumed: segments read back from an interrupted run's journal (no model time).
        seconds: the model's time for the translated segments: the wall time spent waiting for
            its translations (its loading on first use included), not cache lookups, journal
            reading or writing.
        segments_per_s: ``segments_translated / seconds``, or ``None`` when nothing was translated.
        tokens_per_s: output tokens of the translated segments per second, or ``None`` likewise.
        peak_rss_mb: the process's peak resident memory in MiB while the task ran, or ``None`` if unknown.
    """

    segments_translated: int = 0
    segments_from_cache: int = 0
    segments_resumed: int = 0
    seconds: float = 0.0
    segments_per_s: float | None = None
    tokens_per_s: float | None = None
    peak_rss_mb: float | None = None

    @classmethod
    def measured(
        cls, *, translated: int, from_cache: int = 0, resumed: int = 0, seconds: float = 0.0, tokens: int = 0,
        peak_rss_mb: float | None = None,
    ) -> Speed:
        """The figures of a task from its counts, the model's seconds and the translated segments' tokens."""
        timed = translated > 0 and seconds > 0
        return cls(
            segments_translated=translated,
            segments_from_cache=from_cache,
            segments_resumed=resumed,
            seconds=round(seconds, 3),
            segments_per_s=round(translated / seconds, 2) if timed else None,
            tokens_per_s=round(tokens / seconds, 2) if timed else None,
            peak_rss_mb=peak_rss_mb,
        )

    @property
    def no_rate_reason(self) -> str | None:
        """Why there is no segments/s figure (``"all from cache"``...), or ``None`` when there is one."""
        if self.segments_per_s is not None:
            return None
        if self.segments_translated:
            return "not timed"
        if self.segments_from_cache and self.segments_resumed:
            return "all from cache or resumed"
        if self.segments_from_cache:
            return "all from cache"
        if self.segments_resumed:
            return "all resumed"
        return "nothing translated"

    def to_json(self) -> dict[str, int | float | None]:
        """The figures under their JSON names (``segments_translated``... ``peak_rss_mb``)."""
        return {
            "segments_translated": self.segments_translated,
            "segments_from_cache": self.segments_from_cache,
            "segments_resumed": self.segments_resumed,
            "translation_seconds": self.seconds,
            "segments_per_s": self.segments_per_s,
            "tokens_per_s": self.tokens_per_s,
            "peak_rss_mb": self.peak_rss_mb,
        }


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
