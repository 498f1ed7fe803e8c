"""A job: read and check every input, translate each corpus with each system, score, write.

Everything that can be checked before a model translates is checked first:
files, line counts, language codes (:mod:`pipeline.corpora`), and whether each
system can produce each target language. Every output is written atomically
(:mod:`pipeline.outputs`).

Jobs resume (:mod:`pipeline.journal`): each task (a system on a corpus in one
direction) journals its translations a chunk at a time, and started again
translates only what its journal lacks; a finished task is skipped while its
outputs are there and its identity holds.

With ``keep_going`` (used when a job compares several systems), a broken test
set or a failing system is recorded and the rest of the job still runs, so the
report can show it beside the systems that worked.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import ChunkStats, TranslationCache, translate_chunks
from pipeline.config import JobConfig, SystemConfig, targets
from pipeline.corpora import PreparedCorpus, prepare_corpus
from pipeline.engines import Engine, open_engine
from pipeline.errors import ConfigError, OutputError, PipelineError
from pipeline.journal import Journal, read_finished, task_identity, write_meta
from pipeline.measure import Speed, measure
from pipeline.metrics import METRIC_NAMES
from pipeline.outputs import rounded_qe, task_files, task_stem, write_task_outputs
from pipeline.progress import Progress, ProgressCallback, batch_progress
from pipeline.textio import ensure_dir, write_text_atomic

__all__ = ["SCHEMA_VERSION", "TaskResult", "JobResult", "run_job"]

SCHEMA_VERSION = 2  # 2: speed over translated segments only, with the segments' origins counted
log = logging.getLogger(__name__)
_OUT_HINT = "choose another folder: [output] dir in the job file, or --out"


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
    inline: dict[str, Any] | None = None  # a document's markup and glossary counts (documents.InlineStats)
    # Each segment's quality estimate as its .jsonl holds it (system qe = true), else None.
    quality: list[float | None] | None = field(default=None, repr=False)

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
            **({"inline": self.inline} if self.inline is not None else {}),
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
                    tasks.append(_run_task(translator, system, corpus, tgt, out_dir, cache, progress,
                                           metrics=(config.metrics, config.metric_options)))
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


def _run_task(
    translator: Any,
    system: SystemConfig,
    corpus: PreparedCorpus,
    tgt: str,
    out_dir: Path,
    cache: TranslationCache | None = None,
    progress: ProgressCallback | None = None,
    metrics: tuple[Sequence[str], Mapping[str, Any]] = (METRIC_NAMES, {}),
) -> TaskResult:
    from pipeline.align import align_document
    from pipeline.evaluate import score_corpus

    src = corpus.config.src_lang
    # config.py has checked that these names stay in out_dir and that no two tasks share one.
    stem = task_stem(corpus.config.name, src, tgt, system.name)
    total = len(corpus.segments)
    files = task_files(out_dir, stem, document=corpus.config.document_suffix)
    output, jsonl, document, meta, journal_path = files
    identity = task_identity(translator, corpus, tgt, _qe_settings(system))
    report = progress or (lambda _: None)

    finished = read_finished(meta, identity, [output, jsonl, *([document] if document else [])], total)
    if finished is not None:
        log.info("%s is done already: skipped", stem)
        hypotheses, speed, inline, quality = finished
        report(Progress(stem, total, total))
    else:
        hypotheses, figures = _translate_task(
            translator, corpus, tgt, Journal(journal_path, identity, total), stem, cache, report, system.chunk_size
        )
        qe = _quality_estimates(translator, system, corpus, hypotheses, tgt) if system.qe else None
        # What the .jsonl will hold: a task skipped on the next run reads the same values back.
        quality = None if qe is None else [rounded_qe(features)["qe"] for features in qe]
        aligner = None
        if hasattr(corpus.document, "render"):
            from pipeline.wordalign import aligner_for

            aligner = aligner_for(translator, src, tgt)
        try:
            write_task_outputs(
                files, ids=corpus.ids(), sources=corpus.segments, hypotheses=hypotheses,
                paragraph_ids=corpus.paragraph_ids, document=corpus.document, tgt_lang=tgt, aligner=aligner,
                qe=qe, qe_threshold=system.qe_threshold,
            )
        except OutputError as err:
            # The journal holds the whole translation, for the next run to write the outputs from.
            raise OutputError(err.message, hint=f"make room and run the same command again: the {total} translated "
                                                f"segments are kept in {journal_path.name}") from err
        # The outputs are all in place: only now is the task marked done and its journal dropped.
        inline = corpus.document.stats.as_dict() if hasattr(corpus.document, "stats") else None
        write_meta(meta, identity, figures, inline)
        journal_path.unlink(missing_ok=True)
        speed = Speed.measured(**figures)

    level = note = None
    scores: dict[str, Any] = {}
    refs = corpus.references.get(tgt)
    if refs:
        names, options = metrics
        hyps, aligned_refs, level, sources = hypotheses, refs, "segment", list(corpus.segments)
        if corpus.paragraph_ids is not None:
            alignment = align_document(hypotheses, corpus.paragraph_ids, refs, tgt_lang=tgt)
            hyps, aligned_refs, level, note = (
                alignment.hypotheses, alignment.references, alignment.level, alignment.note
            )
            if level == "paragraph":  # the sources joined the same way, for COMET
                sources = align_document(sources, corpus.paragraph_ids, refs, tgt_lang=src).hypotheses
        scores = score_corpus(hyps, aligned_refs, tgt, names, sources=sources, options=options)
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
        inline=inline,
        quality=quality,
    )


def _qe_settings(system: SystemConfig) -> dict[str, Any] | None:
    if not system.qe:
        return None
    return {"qe": True, "qe_threshold": system.qe_threshold, "reverse_model": system.reverse_model}


def _quality_estimates(translator: Any, system: SystemConfig, corpus: PreparedCorpus, hypotheses: list[str],
                       tgt: str) -> list[dict[str, float]]:
    """Each segment's reference-free quality features and estimate (pipeline.rerank.quality_estimates)."""
    from pipeline.models.defaults import default_model
    from pipeline.rerank import quality_estimates
    from pipeline.translate import Translator

    src = corpus.config.src_lang
    # The scores come from the transformers models: the native engine's own model, ported, scores for it.
    forward = getattr(translator, "forward", translator)
    if not hasattr(forward, "loaded"):
        forward = Translator(default_model(src, tgt), workers=1)
    reverse = Translator(system.reverse_model or default_model(tgt, src), workers=1)
    log.info("quality estimates for %d segments (%s back into %s)", len(hypotheses), reverse.name, src)
    return quality_estimates(forward, reverse, corpus.segments, hypotheses, src, tgt)


def _translate_task(
    translator: Any,
    corpus: PreparedCorpus,
    tgt: str,
    journal: Journal,
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
