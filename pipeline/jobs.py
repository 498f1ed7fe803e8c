"""A job: read and check every input, translate each corpus with each system, score, write.

Everything that can be checked before a model translates is checked first:
files, line counts, language codes, and whether each system can produce each
target language. Every output is written atomically.

Jobs resume. Each task (a system on a corpus in one direction) appends its
translations, a chunk at a time, to a ``<stem>.partial`` journal beside its
outputs, flushed and fsync'd; the journal's first line is the task's identity
(a hash of the source segments, the direction, the decoding settings and the
model's files), so a changed config never reuses stale lines, and a torn last
line from a killed run is dropped. Started again, a task translates only what
the journal lacks. A finished task leaves ``<stem>.meta.json`` with its
identity, and is skipped while its outputs are there and its identity holds.

With ``keep_going`` (used when a job compares several systems), a broken test
set or a failing system is recorded and the rest of the job still runs, so the
report can show it beside the systems that worked.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import ChunkStats, TranslationCache, settings_key, translate_chunks
from pipeline.config import CorpusConfig, JobConfig, SystemConfig, targets
from pipeline.engines import Engine, open_engine
from pipeline.errors import ConfigError, InputError, OutputError, PipelineError
from pipeline.measure import Speed, measure
from pipeline.outputs import task_files, task_stem
from pipeline.progress import Progress, ProgressCallback, batch_progress
from pipeline.textio import (
    atomic_writer,
    ensure_dir,
    output_error,
    read_lines,
    read_text,
    write_lines_atomic,
    write_text_atomic,
)

__all__ = ["SCHEMA_VERSION", "PreparedCorpus", "TaskResult", "JobResult", "prepare_corpus", "run_job"]

SCHEMA_VERSION = 2  # 2: speed over translated segments only, with the segments' origins counted
log = logging.getLogger(__name__)
_OUT_HINT = "choose another folder: [output] dir in the job file, or --out"


@dataclass(frozen=True)
class PreparedCorpus:
    """A corpus read, segmented and checked against its references."""

    config: CorpusConfig
    segments: list[str]
    paragraph_ids: list[int] | None
    references: dict[str, list[list[str]]]
    document: Any = None  # a pipeline.segment.Document when the corpus is segmented

    def ids(self) -> list[str]:
        """Stable segment ids: ``<corpus>:<n>`` counting from 1."""
        return [f"{self.config.name}:{n}" for n in range(1, len(self.segments) + 1)]


@dataclass(frozen=True)
class TaskResult:
    """One system on one corpus in one direction (or the error that stopped it)."""

    corpus: str
    system: str
    model: str
    src_lang: str
    tgt_lang: str
    segments: int
    speed: Speed | None = None
    output: Path | None = None
    jsonl: Path | None = None
    document: Path | None = None
    level: str | None = None
    note: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    hypotheses: list[str] = field(default_factory=list, repr=False)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; scores carry their sacrebleu signatures."""
        return {
            "corpus": self.corpus,
            "system": self.system,
            "model": self.model,
            "src_lang": self.src_lang,
            "tgt_lang": self.tgt_lang,
            "segments": self.segments,
            "error": self.error,
            # A failed task has no figures: every field is null.
            **(self.speed.to_json() if self.speed is not None else dict.fromkeys(Speed().to_json())),
            "output": str(self.output) if self.output else None,
            "jsonl": str(self.jsonl) if self.jsonl else None,
            "document": str(self.document) if self.document else None,
            "level": self.level,
            "note": self.note,
            "scores": {
                name: {"score": s.score, "signature": s.signature, "text": s.text} for name, s in self.scores.items()
            },
        }


@dataclass(frozen=True)
class JobResult:
    """What a job produced: one :class:`TaskResult` per corpus, direction and system."""

    name: str
    output_dir: Path
    scores_file: Path
    tasks: list[TaskResult]
    corpora: list[PreparedCorpus] = field(default_factory=list, repr=False)
    corpus_errors: dict[str, str] = field(default_factory=dict)
    system_errors: dict[str, str] = field(default_factory=dict)


def prepare_corpus(corpus: CorpusConfig) -> PreparedCorpus:
    """Read a corpus and its references; segment it if asked; check the alignment.

    Raises:
        InputError: a file is missing, empty, not UTF-8, or its line count does not match.
    """
    from pipeline.align import align_document, check_alignment

    if corpus.sacrebleu:
        source, reference_files = _sacrebleu_files(corpus)
    else:
        source, reference_files = corpus.source, corpus.references
    references = {lang: [read_lines(path) for path in paths] for lang, paths in reference_files.items()}
    if corpus.segment:
        from pipeline.segment import Segmenter

        document = Segmenter(corpus.src_lang, backend=corpus.segmenter).segment(read_text(source))
        segments, paragraph_ids = list(document.texts), list(document.paragraph_ids)
        for lang, refs in references.items():
            # Fails now, before any model loads, if the reference cannot be aligned at all.
            align_document(segments, paragraph_ids, refs, tgt_lang=lang)
        return PreparedCorpus(corpus, segments, paragraph_ids, references, document)
    segments = read_lines(source)
    for lang, refs in references.items():
        check_alignment(segments, refs, names=[str(source), *map(str, reference_files[lang])])
    return PreparedCorpus(corpus, segments, None, references)


def _sacrebleu_files(corpus: CorpusConfig) -> tuple[Path, dict[str, tuple[Path, ...]]]:
    """Source and reference files of a sacrebleu test set, downloaded by sacrebleu when needed."""
    from sacrebleu.dataset import DATASETS

    from pipeline.languages import parse_language

    name = corpus.sacrebleu or ""
    if name not in DATASETS:
        raise ConfigError(f"corpus {corpus.name!r}: sacrebleu has no test set {name!r}", hint="see `sacrebleu --list`")
    dataset = DATASETS[name]
    src = parse_language(corpus.src_lang).language
    sources: set[str] = set()
    references: dict[str, tuple[Path, ...]] = {}
    for tgt in corpus.tgt_langs:
        pair = f"{src}-{parse_language(tgt).language}"
        if pair not in dataset.langpairs:
            raise ConfigError(
                f"corpus {corpus.name!r}: sacrebleu test set {name} has no {pair} (has: {', '.join(dataset.langpairs)})"
            )
        try:
            sources.add(dataset.get_source_file(pair))
            references[tgt] = tuple(Path(p) for p in dataset.get_reference_files(pair))
        except Exception as err:  # sacrebleu raises plain exceptions (and exits) on download failures
            raise InputError(f"corpus {corpus.name!r}: cannot fetch sacrebleu test set {name} {pair}: {err}") from err
    if len(sources) != 1:
        raise ConfigError(f"corpus {corpus.name!r}: {name} has different sources per target; use one corpus per pair")
    return Path(sources.pop()), references


def run_job(
    config: JobConfig,
    *,
    keep_going: bool = False,
    cache: TranslationCache | None = None,
    progress: ProgressCallback | None = None,
    engine: Engine | None = None,
) -> JobResult:
    """Run a job to the end and write its outputs under ``config.output_dir``.

    A job stopped at any point, even killed, goes on where it stopped when run
    again; tasks already finished are not translated again.

    Args:
        config: the job.
        keep_going: record a broken corpus or a failing system and go on with the rest
            (for comparisons); otherwise the first problem is raised.
        cache: a translation cache to read before translating and fill after, or ``None``.
        progress: called as each chunk of segments is translated.
        engine: where to translate, already entered (default: ``config.engine``,
            opened for the job and closed after it).

    Returns:
        The :class:`JobResult`; the caller prints the summary.

    Raises:
        PipelineError: any input, config or model problem, raised before translation where possible.
    """
    if engine is None:
        with open_engine(config.engine) as opened:
            return run_job(config, keep_going=keep_going, cache=cache, progress=progress, engine=opened)
    corpora: list[PreparedCorpus] = []
    corpus_errors: dict[str, str] = {}
    for corpus in config.corpora:
        try:
            corpora.append(prepare_corpus(corpus))
        except PipelineError as err:
            if not keep_going:
                raise
            corpus_errors[corpus.name] = str(err)
            log.warning("corpus %s: %s", corpus.name, err)

    translators: dict[str, Any] = {}
    system_errors: dict[str, str] = {}
    for system in config.systems:
        try:
            translators[system.name] = _checked_translator(engine.translator(system), system, corpora)
        except PipelineError as err:
            if not keep_going:
                raise
            system_errors[system.name] = str(err)
            log.warning("%s", err)

    out_dir = ensure_dir(config.output_dir, "output folder", hint=_OUT_HINT)
    tasks: list[TaskResult] = []
    for system in config.systems:
        translator = translators.pop(system.name, None)
        for corpus in corpora:
            for tgt in targets(corpus.config, system):
                if translator is None:
                    error = system_errors.get(system.name, "not run")
                    tasks.append(_failed(system, corpus, tgt, error))
                    continue
                try:
                    tasks.append(_run_task(translator, system, corpus, tgt, out_dir, cache, progress))
                except PipelineError as err:
                    if not keep_going or isinstance(err, OutputError):  # a full disk fails every system alike
                        raise
                    log.warning("system %s on %s: %s", system.name, corpus.config.name, err)
                    tasks.append(_failed(system, corpus, tgt, str(err)))
                except Exception as err:  # a system that fails halfway must not sink the comparison
                    if not keep_going:
                        raise
                    log.warning("system %s failed on %s", system.name, corpus.config.name, exc_info=True)
                    tasks.append(_failed(system, corpus, tgt, f"{type(err).__name__}: {err}"))
        del translator  # one model in memory at a time
        gc.collect()

    scores_file = out_dir / "scores.json"
    payload = {
        "schema_version": SCHEMA_VERSION,
        "job": config.name,
        "config": str(config.path),
        "corpus_errors": corpus_errors,
        "results": [task.to_json() for task in tasks],
    }
    write_text_atomic(scores_file, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return JobResult(
        name=config.name, output_dir=out_dir, scores_file=scores_file, tasks=tasks,
        corpora=corpora, corpus_errors=corpus_errors, system_errors=system_errors,
    )


def _checked_translator(translator: Any, system: SystemConfig, corpora: list[PreparedCorpus]) -> Any:
    pairs = [(c.config.src_lang, tgt) for c in corpora for tgt in targets(c.config, system)]
    if not pairs and corpora:
        raise ConfigError(f"system {system.name!r} has no direction to run (its tgt_langs match no corpus)")
    for src, tgt in dict.fromkeys(pairs):
        try:
            translator.check_direction(src, tgt)
        except PipelineError as err:
            raise type(err)(f"system {system.name!r}: {err}", hint=err.hint) from err
    return translator


def _failed(system: SystemConfig, corpus: PreparedCorpus, tgt: str, error: str) -> TaskResult:
    return TaskResult(
        corpus=corpus.config.name, system=system.name, model=system.model, src_lang=corpus.config.src_lang,
        tgt_lang=tgt, segments=len(corpus.segments), error=error,
    )


def _count_tokens(texts: list[str], tgt: str) -> int:
    from pipeline.languages import is_unspaced

    if is_unspaced(tgt):
        return sum(len("".join(text.split())) for text in texts)
    return sum(len(text.split()) for text in texts)


def _task_identity(translator: Any, corpus: PreparedCorpus, tgt: str) -> str:
    # Everything the task's output files depend on; batching and chunking do not.
    digest = hashlib.sha256()
    header = {"settings": settings_key(translator), "corpus": corpus.config.name,
              "src_lang": corpus.config.src_lang, "tgt_lang": tgt, "paragraphs": corpus.paragraph_ids}
    digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    for segment in corpus.segments:
        digest.update(segment.encode("utf-8") + b"\0")
    if corpus.document is not None:
        digest.update(corpus.document.rebuild(corpus.segments).encode("utf-8"))
    return digest.hexdigest()


class _Journal:
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
        """The translations already journaled; the file is left ready for appending."""
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
        """Write, flush and fsync one chunk's translations and its end line."""
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
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _json_or_none(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        return None


def _finished(meta: Path, identity: str, outputs: list[Path], total: int) -> tuple[list[str], dict[str, Any]] | None:
    # A finished task's translations and its measurements, read back from its outputs.
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("identity") != identity or not all(path.is_file() for path in outputs):
            return None
        records = [json.loads(line) for line in outputs[1].read_text(encoding="utf-8").splitlines()]
        hypotheses = [record["translation"] for record in records]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return (hypotheses, info) if len(hypotheses) == total else None


def _run_task(
    translator: Any,
    system: SystemConfig,
    corpus: PreparedCorpus,
    tgt: str,
    out_dir: Path,
    cache: TranslationCache | None = None,
    progress: ProgressCallback | None = None,
) -> TaskResult:
    from pipeline.align import align_document
    from pipeline.evaluate import score_corpus

    src = corpus.config.src_lang
    # config.py has checked that these names stay in out_dir and that no two tasks share one.
    stem = task_stem(corpus.config.name, src, tgt, system.name)
    total = len(corpus.segments)
    output, jsonl, document, meta, journal_path = task_files(out_dir, stem, document=corpus.document is not None)
    identity = _task_identity(translator, corpus, tgt)
    report = progress or (lambda _: None)

    finished = _finished(meta, identity, [output, jsonl, *([document] if document else [])], total)
    if finished is not None:
        log.info("%s is done already: skipped", stem)
        hypotheses, info = finished
        report(Progress(stem, total, total))
        # The figures of the run that made these outputs; a meta file from before they were
        # recorded gives none, and its translations count as resumed.
        peak = info.get("peak_rss_mb")
        speed = _speed_from_meta(info.get("speed"), total) or Speed.measured(
            translated=0, resumed=total, peak_rss_mb=peak if _is_number(peak) else None
        )
    else:
        hypotheses, figures = _translate_task(
            translator, corpus, tgt, _Journal(journal_path, identity, total), stem, cache, report, system.chunk_size
        )
        try:
            write_lines_atomic(output, hypotheses)
            with atomic_writer(jsonl) as handle:
                for n, (seg_id, source, hyp) in enumerate(zip(corpus.ids(), corpus.segments, hypotheses)):
                    record = {"id": seg_id, "source": source, "translation": hyp}
                    if corpus.paragraph_ids is not None:
                        record["paragraph"] = corpus.paragraph_ids[n]
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            if document is not None:
                write_text_atomic(document, corpus.document.rebuild(hypotheses, tgt_lang=tgt))
        except OutputError as err:
            # No output of a task stands without the others (nor without its .meta.json); the journal
            # holds the whole translation, for the next run to write them from.
            for path in (output, jsonl, document):
                if path is not None:
                    path.unlink(missing_ok=True)
            raise OutputError(err.message, hint=f"make room and run the same command again: the {total} translated "
                                                f"segments are kept in {journal_path.name}") from err
        # The outputs are all in place: only now is the task marked done and its journal dropped.
        info = {"identity": identity, "speed": figures}
        write_text_atomic(meta, json.dumps(info, indent=2) + "\n")
        journal_path.unlink(missing_ok=True)
        speed = Speed.measured(**figures)

    level = note = None
    scores: dict[str, Any] = {}
    refs = corpus.references.get(tgt)
    if refs:
        hyps, aligned_refs, level = hypotheses, refs, "segment"
        if corpus.paragraph_ids is not None:
            alignment = align_document(hypotheses, corpus.paragraph_ids, refs, tgt_lang=tgt)
            hyps, aligned_refs, level, note = (
                alignment.hypotheses, alignment.references, alignment.level, alignment.note
            )
        scores = score_corpus(hyps, aligned_refs, tgt)
    return TaskResult(
        corpus=corpus.config.name,
        system=system.name,
        model=system.model,
        src_lang=src,
        tgt_lang=tgt,
        segments=len(corpus.segments),
        speed=speed,
        output=output,
        jsonl=jsonl,
        document=document,
        level=level,
        note=note or None,
        scores=scores,
        hypotheses=hypotheses,
    )


def _translate_task(
    translator: Any,
    corpus: PreparedCorpus,
    tgt: str,
    journal: _Journal,
    stem: str,
    cache: TranslationCache | None,
    report: ProgressCallback,
    chunk_size: int,
) -> tuple[list[str], dict[str, Any]]:
    # The task's translations, from its journal and then the model (through the cache),
    # and the figures for Speed.measured: what came from where, the model's time.
    src, total = corpus.config.src_lang, len(corpus.segments)
    stats = ChunkStats()
    try:
        done = journal.open()
        resumed = len(done)
        if done:
            log.info("%s: resuming after %d of %d segments", stem, len(done), total)
        else:
            log.info("translating %s (%d segments) into %s", stem, total, tgt)
        report(Progress(stem, len(done), total))
        todo = [n for n in range(total) if n not in done]
        with measure() as cost, batch_progress(report, stem, lambda: len(done), total):
            for pairs in translate_chunks(
                translator, corpus.segments, src, tgt, indices=todo, cache=cache, chunk_size=chunk_size, stats=stats
            ):
                journal.append(pairs)
                done.update(pairs)
                report(Progress(stem, len(done), total))
    finally:
        journal.close()
    figures = {
        "translated": len(stats.translated), "from_cache": stats.from_cache, "resumed": resumed,
        "seconds": stats.seconds, "tokens": _count_tokens([done[n] for n in stats.translated], tgt),
        "peak_rss_mb": cost.peak_rss_mb,
    }
    return [done[n] for n in range(total)], figures


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
