"""Progress reports from the library to whoever shows them.

The library never prints: it calls a :data:`ProgressCallback` with a
:class:`Progress` as segments are translated, and the command line turns
that into a progress bar on stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "ProgressCallback"]


@dataclass(frozen=True)
class Progress:
    """How far one translation task has got.

    Attributes:
        task: what is being translated (``<corpus>.<src>-<tgt>.<system>``, or ``translate``).
        done: segments translated so far, those found in a journal or cache included.
        total: segments in the task.
    """

    task: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]
