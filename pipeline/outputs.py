"""A job's output file names, and the checks that keep them inside the output folder.

A task (a system on a corpus in one direction) writes ``<corpus>.<src>-<tgt>.<system>``
plus each of :data:`SUFFIXES`. Corpus and system names come from the job file, so
:func:`check_output_names` refuses, before any model loads, a name that could leave
the folder (a separator, ``..``, a drive), hide or garble a file (a leading dot, a
control character), go over the file-name limit, or make two tasks write one file.
:func:`write_task_outputs` writes a task's translations, each file atomically.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.errors import ConfigError, OutputError
from pipeline.textio import atomic_writer, write_bytes_atomic, write_lines_atomic, write_text_atomic

__all__ = [
    "SUFFIXES", "NAME_MAX", "QE_DIGITS", "Task", "TaskFiles", "task_stem", "task_files", "check_name",
    "check_output_names", "rounded_qe", "write_task_outputs",
]

SUFFIXES = (".txt", ".jsonl", ".doc.txt", ".meta.json", ".partial")  # in TaskFiles' order
NAME_MAX = 255  # bytes in one file name: ext4, XFS, Btrfs, tmpfs, APFS (NTFS: 255 UTF-16 units)
# Every output is first written as ".<name>.XXXXXXXX.tmp" beside its final name
# (pipeline.textio.atomic_writer, tempfile.mkstemp), which must fit as well.
_TEMP_OVERHEAD = len(".") + len(".XXXXXXXX") + len(".tmp")
# Separators (\ on Windows) and what Windows forbids in a name; ':' also makes a drive ("C:x").
_FORBIDDEN = '/\\:*?"<>|'
# Control, format (bidi overrides, zero-width) and line/paragraph separators, surrogates.
_INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Windows opens these devices whatever follows the first dot ("nul.en-pt.x.txt").
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
QE_DIGITS = 4  # a quality estimate's decimals in the .jsonl, and so in every report made from it


def rounded_qe(features: Mapping[str, float]) -> dict[str, float]:
    """A segment's quality features and estimate as the ``.jsonl`` holds them (:data:`QE_DIGITS` decimals).

    A finished task skipped on a rerun reads its estimates back from the ``.jsonl``, so a fresh
    run reports these rounded values too: the figures are the same either way.
    """
    return {name: round(value, QE_DIGITS) for name, value in features.items()}


class TaskFiles(NamedTuple):
    """The files of one task, inside the output folder."""

    output: Path
    jsonl: Path
    document: Path | None  # only for a segmented document
    meta: Path
    journal: Path


class Task(NamedTuple):
    """What names one task's files (for :func:`check_output_names`)."""

    corpus: str
    src_lang: str
    tgt_lang: str
    system: str
    document: bool | str  # True for a segmented text document; a document format's extension (".html")


def task_stem(corpus: str, src_lang: str, tgt_lang: str, system: str) -> str:
    """``<corpus>.<src>-<tgt>.<system>``: the common part of a task's file names."""
    return f"{corpus}.{src_lang}-{tgt_lang}.{system}"


def task_files(out_dir: Path, stem: str, *, document: bool | str) -> TaskFiles:
    """The paths of a task's files under ``out_dir``.

    Raises:
        ConfigError: ``stem`` is not a plain file name (the job file's names are
            checked when it is read; this guards other callers).
    """
    if Path(stem).name != stem or stem.startswith(".") or any(ch in _FORBIDDEN for ch in stem):
        raise ConfigError(f"output file stem {_shown(stem)} is not a plain file name inside {out_dir}")
    output, jsonl, doc, meta, journal = (out_dir / f"{stem}{suffix}" for suffix in SUFFIXES)
    if isinstance(document, str):  # a document in its own format: <stem>.doc<ext>
        doc = out_dir / f"{stem}.doc{document}"
    return TaskFiles(output, jsonl, doc if document else None, meta, journal)


def write_task_outputs(
    files: TaskFiles,
    *,
    ids: Sequence[str],
    sources: Sequence[str],
    hypotheses: Sequence[str],
    paragraph_ids: Sequence[int] | None = None,
    document: Any = None,
    tgt_lang: str | None = None,
    aligner: Any = None,
    qe: Sequence[dict[str, float]] | None = None,
    qe_threshold: float = 0.5,
) -> None:
    """Write a task's ``.txt`` (one translation a line), ``.jsonl`` and, for a document, ``.doc.txt``.

    Args:
        files: where they go (the ``.meta.json`` and the journal are not written here).
        ids: segment ids, in order.
        sources: the source segments.
        hypotheses: their translations.
        paragraph_ids: each segment's paragraph, for a segmented document.
        document: the segmented document (a :class:`pipeline.segment.Document`), rebuilt
            from the translations into ``files.document``.
        tgt_lang: the target language, for rebuilding the document.
        qe: each segment's quality features and estimate (``qe``), written into the ``.jsonl``
            (:func:`rounded_qe`) with ``check: true`` when the written estimate is below ``qe_threshold``.
        qe_threshold: see ``qe``.
        aligner: for a document in another format (a :class:`pipeline.documents.PreparedDocument`):
            what puts its inline markup back (:func:`pipeline.wordalign.aligner_for`).

    Raises:
        OutputError: a file could not be written; those already written are removed, since
            no output of a task stands without the others.
    """
    try:
        write_lines_atomic(files.output, hypotheses)
        with atomic_writer(files.jsonl) as handle:
            for n, (seg_id, source, hyp) in enumerate(zip(ids, sources, hypotheses, strict=True)):
                record: dict[str, Any] = {"id": seg_id, "source": source, "translation": hyp}
                if paragraph_ids is not None:
                    record["paragraph"] = paragraph_ids[n]
                if qe is not None:
                    record["qe"] = rounded_qe(qe[n])
                    # On the rounded value, as a reader of the file (and the reports) sees it.
                    record["check"] = record["qe"]["qe"] < qe_threshold
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        if files.document is not None:
            if hasattr(document, "render"):  # a document in its own format, rendered to bytes
                write_bytes_atomic(files.document, document.render(hypotheses, tgt_lang=tgt_lang, aligner=aligner))
            else:
                write_text_atomic(files.document, document.rebuild(hypotheses, tgt_lang=tgt_lang))
    except OutputError:
        for path in (files.output, files.jsonl, files.document):
            if path is not None:
                path.unlink(missing_ok=True)
        raise


def check_name(name: str, kind: str, where: str) -> None:
    """Refuse a corpus or system name that cannot be part of a file name inside the output folder.

    Args:
        name: the name from the job file.
        kind: ``corpus`` or ``system``, for the message.
        where: the job file's name, for the message.

    Raises:
        ConfigError: naming the value and what is wrong with it.
    """
    problem = None
    if not name.strip():
        problem = "is empty"
    elif name in (".", ".."):
        problem = "names a folder, not a file"
    elif bad := sorted({ch for ch in name if ch in _FORBIDDEN}):
        problem = f"contains {' '.join(bad)} (path separators and characters file systems forbid)"
    elif bad := sorted({ch for ch in name if unicodedata.category(ch) in _INVISIBLE}):
        problem = f"contains control or invisible characters ({', '.join(f'U+{ord(ch):04X}' for ch in bad)})"
    elif name.startswith("."):
        problem = "starts with a dot, which hides a file"
    elif kind == "corpus" and name.split(".")[0].strip().lower() in _DEVICES:
        problem = "starts with a name Windows reserves for a device"
    if problem:
        raise ConfigError(f"{where}: {kind} name {_shown(name)} {problem}",
                          hint="names become output file names: use letters, digits, - _ . and spaces")


def check_output_names(tasks: Iterable[Task], where: str) -> None:
    """Refuse tasks whose file names are too long or would be the same file.

    Two names that differ only in case or Unicode normalisation are the same file
    on macOS and Windows, so they collide as well.

    Raises:
        ConfigError: naming the corpus and system, and the file.
    """
    seen: dict[str, tuple[Task, str]] = {}
    for task in tasks:
        stem = task_stem(task.corpus, task.src_lang, task.tgt_lang, task.system)
        names = [file.name for file in task_files(Path(), stem, document=task.document) if file is not None]
        longest = max(names, key=lambda n: len(n.encode("utf-8")))
        size = len(longest.encode("utf-8"))
        if size + _TEMP_OVERHEAD > NAME_MAX:
            names_given = (("corpus", task.corpus), ("system", task.system))
            kind, value = max(names_given, key=lambda kv: len(kv[1].encode("utf-8")))
            raise ConfigError(
                f"{where}: {kind} name {_shown(value)} is too long: its output file names reach {size} bytes, "
                f"over the limit of {NAME_MAX - _TEMP_OVERHEAD} ({NAME_MAX} bytes per file name, less "
                f"{_TEMP_OVERHEAD} for the temporary file each output is written to first)",
                hint="shorten the corpus or system name",
            )
        for name in names:
            key = unicodedata.normalize("NFC", name).casefold()
            if key in seen:
                other, other_name = seen[key]
                if other_name == name:
                    files = f"the same file {_shown(name)}"
                else:
                    # Names that differ only in normalisation look alike: show their code points.
                    alike = unicodedata.normalize("NFC", other_name) == unicodedata.normalize("NFC", name)
                    show = ascii if alike else _shown
                    files = (f"{show(other_name)} and {show(name)}, "
                             "one file where case or Unicode normalisation is ignored (macOS, Windows)")
                raise ConfigError(
                    f"{where}: corpus {_shown(other.corpus)} with system {_shown(other.system)} and corpus "
                    f"{_shown(task.corpus)} with system {_shown(task.system)} would write {files}",
                    hint="rename one of the corpora or systems",
                )
            seen[key] = (task, name)


def _shown(value: str, limit: int = 60) -> str:
    # repr() escapes control characters, so the message stays one line.
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"
