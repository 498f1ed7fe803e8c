"""Progress reports from the library to whoever shows them.

The library never prints: it calls a :data:`ProgressCallback` with a
:class:`Progress` as segments are translated, and the command line turns
that into a progress bar on stderr.

Whole chunks are reported by the stage that journals them. In between, a
translator calls :func:`batch_done` as each batch is decoded; inside a
:func:`batch_progress` block that becomes a :class:`Progress` too, so a bar
moves per batch rather than per chunk of a few hundred segments. The
listener is a context variable, so a translator deep in the stack needs no
callback threaded through every layer, and engines that cannot report
batches (a Ray cluster) simply report chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Progress", "ProgressCallback", "batch_done", "batch_progress"]


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

_listener: ContextVar[Callable[[int], None] | None] = ContextVar("mtpipe_batch_listener", default=None)


def batch_done(segments: int) -> None:
    """Tell whoever listens in this context that a batch of ``segments`` segments is translated."""
    listener = _listener.get()
    if listener is not None:
        listener(segments)


@contextmanager
def batch_progress(report: ProgressCallback, task: str, done: Callable[[], int], total: int) -> Iterator[None]:
    """Report a :class:`Progress` for every batch finished inside the block.

    Args:
        report: where the reports go.
        task: the task's name.
        done: the segments finished in whole chunks so far (read at each batch); the batches
            finished since it last changed are added to it.
        total: segments in the task.
    """
    base, extra = done(), 0

    def listen(segments: int) -> None:
        nonlocal base, extra
        now = done()
        if now != base:  # a chunk was counted: its batches are in it
            base, extra = now, 0
        extra += segments
        report(Progress(task, min(base + extra, total), total))

    token = _listener.set(listen)
    try:
        yield
    finally:
        _listener.reset(token)
