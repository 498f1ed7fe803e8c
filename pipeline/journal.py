"""What makes a job resumable: each task's journal, its identity, and the mark of a finished task.

Each task (a system on a corpus in one direction) appends its translations, a
chunk at a time, to a ``<stem>.partial`` :class:`Journal` beside its outputs,
flushed and fsync'd. The journal's first line is the task's identity
(:func:`task_identity`: a hash of the source segments, the direction, the
decoding settings and the model's files), so a changed config never reuses
stale lines, and a torn last line from a killed run is dropped. Started again,
a task translates only what the journal lacks.

A finished task leaves ``<stem>.meta.json`` (:func:`write_meta`) with its
identity and its figures; :func:`read_finished` gives its translations back
while its outputs are there and its identity holds, so the task is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeline.cache import settings_key
from pipeline.errors import OutputError
from pipeline.measure import Speed
from pipeline.textio import output_error, write_text_atomic

if TYPE_CHECKING:
    from pipeline.corpora import PreparedCorpus

__all__ = ["Finished", "Journal", "read_finished", "task_identity", "write_meta"]

log = logging.getLogger(__name__)


def task_identity(translator: Any, corpus: PreparedCorpus, tgt: str, extra: dict[str, Any] | None = None) -> str:
    """A hash of everything a task's output files depend on; batching and chunking do not count.

    Args:
        translator: the task's translator (its settings and model files are hashed).
        corpus: the corpus it translates.
        tgt: the target language.
    """
    digest = hashlib.sha256()
    header = {"settings": settings_key(translator), "corpus": corpus.config.name,
              "src_lang": corpus.config.src_lang, "tgt_lang": tgt, "paragraphs": corpus.paragraph_ids}
    if extra:  # what else the outputs hold (quality estimates)
        header["extra"] = extra
    digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    for segment in corpus.segments:
        digest.update(segment.encode("utf-8") + b"\0")
    if corpus.document is not None:
        rebuilt = corpus.document.rebuild(corpus.segments)
        digest.update(rebuilt if isinstance(rebuilt, bytes) else rebuilt.encode("utf-8"))
    glossary = getattr(corpus.document, "glossary", None)
    if glossary is not None:
        digest.update(json.dumps(glossary.entries).encode("utf-8"))
    return digest.hexdigest()


class Journal:
    """A task's translations so far: a header line with its identity, then per chunk one JSON line
    per segment and an end line. Only whole chunks count: a resumed task starts at a chunk
    boundary, so its groups, and so its translations, are those of an uninterrupted run.
    """

    FORMAT = 2  # 1 had no end lines

    def __init__(self, path: Path, identity: str, total: int) -> None:
        self.path, self.identity, self.total = path, identity, total
        self._handle: Any = None
        self._kept = 0  # segments in whole chunks in the file

    def open(self) -> dict[int, str]:
        """The translations already journaled; the file is left ready for appending.

        A journal of another identity, or a damaged one, is started afresh; an unfinished last chunk is dropped.
        """
        done: dict[int, str] = {}
        good = 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")[:-1]  # the piece after the last newline is torn or empty
        if lines and _json_or_none(lines[0]) == self._header():
            good = offset = len(lines[0]) + 1
            chunk: dict[int, str] = {}
            for line in lines[1:]:
                record = _json_or_none(line)
                offset += len(line) + 1
                if isinstance(record, dict) and set(record) == {"end"} and record["end"] == len(chunk):
                    done.update(chunk)  # a whole chunk
                    chunk, good = {}, offset
                elif (isinstance(record, dict) and isinstance(record.get("n"), int)
                        and 0 <= record["n"] < self.total and isinstance(record.get("translation"), str)):
                    chunk[record["n"]] = record["translation"]
                else:
                    break
        elif data:
            log.info("%s belongs to another config or is damaged: starting the task afresh", self.path.name)
        if good == 0:
            write_text_atomic(self.path, json.dumps(self._header()) + "\n")
        elif good < len(data):
            log.info("%s: dropping an unfinished last chunk", self.path.name)
        self._handle = self.path.open("r+b")
        self._handle.truncate(good or self.path.stat().st_size)
        self._handle.seek(0, os.SEEK_END)
        self._kept = len(done)
        return done

    def _header(self) -> dict[str, Any]:
        return {"identity": self.identity, "segments": self.total, "format": self.FORMAT}

    def append(self, pairs: list[tuple[int, str]]) -> None:
        """Write, flush and fsync one chunk's translations and its end line.

        Raises:
            OutputError: the chunk could not be written; the hint says how many segments are kept.
        """
        lines = "".join(json.dumps({"n": n, "translation": t}, ensure_ascii=False) + "\n" for n, t in pairs)
        lines += json.dumps({"end": len(pairs)}) + "\n"
        try:
            self._handle.write(lines.encode("utf-8"))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as err:
            raise self._write_error(err) from err
        self._kept += len(pairs)

    def _write_error(self, err: OSError) -> OutputError:
        # A journal with whole chunks is work to resume from (a torn last chunk is dropped on
        # reading); one without is removed, so that a failed run leaves nothing behind.
        handle, self._handle = self._handle, None
        try:
            handle.close()
        except OSError:
            pass  # closing flushes what could not be written: the same error again
        if self._kept:
            return output_error(err, self.path, hint=f"{self._kept} of {self.total} segments are kept in it: "
                                                     "make room and run the same command again to resume")
        self.path.unlink(missing_ok=True)
        return output_error(err, self.path)

    def close(self) -> None:
        """Close the file (it stays on disk until the task's outputs are written)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Finished(NamedTuple):
    """A finished task read back: its translations and the figures of the run that made them.

    ``quality`` is each segment's quality estimate from the ``.jsonl`` (``None`` for a record
    without one), or ``None`` when no record has one (the task was run without ``qe``).
    """

    hypotheses: list[str]
    speed: Speed
    inline: dict[str, Any] | None = None
    quality: list[float | None] | None = None


def write_meta(meta: Path, identity: str, figures: dict[str, Any], inline: dict[str, Any] | None = None) -> None:
    """Mark a task finished: ``meta`` records its identity and its figures (``Speed.measured``'s arguments).

    Written last, once all the task's outputs are in place.
    """
    info: dict[str, Any] = {"identity": identity, "speed": figures}
    if inline is not None:  # a document's markup and glossary counts (pipeline.documents.InlineStats)
        info["inline"] = inline
    write_text_atomic(meta, json.dumps(info, indent=2) + "\n")


def read_finished(meta: Path, identity: str, outputs: list[Path], total: int) -> Finished | None:
    """A finished task's translations and figures, read back from its outputs; ``None`` if it must run.

    Args:
        meta: the task's ``.meta.json``.
        identity: the task's identity now; a meta file of another identity does not count.
        outputs: the task's output files, the ``.jsonl`` second; all must exist.
        total: the corpus's segment count; outputs with another count do not count.
    """
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("identity") != identity or not all(path.is_file() for path in outputs):
            return None
        records = [json.loads(line) for line in outputs[1].read_text(encoding="utf-8").splitlines()]
        hypotheses = [record["translation"] for record in records]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if len(hypotheses) != total:
        return None
    # The figures of the run that made these outputs; a meta file from before they were
    # recorded gives none, and its translations count as resumed.
    peak = info.get("peak_rss_mb")
    speed = _speed_from_meta(info.get("speed"), total) or Speed.measured(
        translated=0, resumed=total, peak_rss_mb=peak if _is_number(peak) else None
    )
    inline = info.get("inline")
    quality = [_estimate(record) for record in records]
    return Finished(hypotheses, speed, inline if isinstance(inline, dict) else None,
                    quality if any(value is not None for value in quality) else None)


def _estimate(record: Any) -> float | None:
    # A record's quality estimate ({"qe": {..., "qe": 0.73}}, pipeline.outputs), or None.
    qe = record.get("qe") if isinstance(record, dict) else None
    value = qe.get("qe") if isinstance(qe, dict) else None
    return float(value) if _is_number(value) else None


def _json_or_none(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        return None


_COUNTS = ("translated", "from_cache", "resumed", "tokens")


def _speed_from_meta(figures: Any, total: int) -> Speed | None:
    # The figures a finished task recorded, or None when they are missing or do not add up.
    if not isinstance(figures, dict) or set(figures) != {*_COUNTS, "seconds", "peak_rss_mb"}:
        return None
    if not all(type(figures[key]) is int and figures[key] >= 0 for key in _COUNTS):
        return None
    if not _is_number(figures["seconds"]) or not (figures["peak_rss_mb"] is None or _is_number(figures["peak_rss_mb"])):
        return None
    if figures["translated"] + figures["from_cache"] + figures["resumed"] != total:
        return None
    return Speed.measured(**figures)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
