"""A job: read and check every input, translate each corpus with each system, score, write.

Everything that can be checked before a model translates is checked first:
files, line counts, language codes, and whether each system can produce each
target language. Every output is written atomically.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import CorpusConfig, JobConfig, SystemConfig
from pipeline.errors import ConfigError, PipelineError
from pipeline.textio import atomic_writer, read_lines, read_text, write_lines_atomic, write_text_atomic

__all__ = ["SCHEMA_VERSION", "PreparedCorpus", "TaskResult", "JobResult", "prepare_corpus", "run_job"]

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


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
    """One system on one corpus in one direction."""

    corpus: str
    system: str
    model: str
    src_lang: str
    tgt_lang: str
    segments: int
    seconds: float
    output: Path
    jsonl: Path
    document: Path | None = None
    level: str | None = None
    note: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; scores carry their sacrebleu signatures."""
        return {
            "corpus": self.corpus,
            "system": self.system,
            "model": self.model,
            "src_lang": self.src_lang,
            "tgt_lang": self.tgt_lang,
            "segments": self.segments,
            "seconds": round(self.seconds, 3),
            "segments_per_second": round(self.segments / self.seconds, 2) if self.seconds else None,
            "output": str(self.output),
            "jsonl": str(self.jsonl),
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


def prepare_corpus(corpus: CorpusConfig) -> PreparedCorpus:
    """Read a corpus and its references; segment it if asked; check the alignment.

    Raises:
        InputError: a file is missing, empty, not UTF-8, or its line count does not match.
    """
    from pipeline.evaluate import align_document, check_alignment

    references = {
        lang: [read_lines(path) for path in paths] for lang, paths in corpus.references.items()
    }
    if corpus.segment:
        from pipeline.segment import Segmenter

        document = Segmenter(corpus.src_lang, backend=corpus.segmenter).segment(read_text(corpus.source))
        segments, paragraph_ids = list(document.texts), list(document.paragraph_ids)
        for refs in references.values():
            # Fails now, before any model loads, if the reference cannot be aligned at all.
            align_document(segments, paragraph_ids, refs)
        return PreparedCorpus(corpus, segments, paragraph_ids, references, document)
    segments = read_lines(corpus.source)
    for lang, refs in references.items():
        check_alignment(segments, refs, names=[str(corpus.source), *map(str, corpus.references[lang])])
    return PreparedCorpus(corpus, segments, None, references)


def _targets(corpus: CorpusConfig, system: SystemConfig) -> list[str]:
    if not system.tgt_langs:
        return list(corpus.tgt_langs)
    return [lang for lang in corpus.tgt_langs if lang in system.tgt_langs]


def _make_translator(system: SystemConfig) -> Any:
    from pipeline.translate import Translator

    return Translator(
        system.model,
        family=system.family,
        beam=system.beam,
        max_length=system.max_length,
        batch_tokens=system.batch_tokens,
        device=system.device,
        dtype=system.dtype,
        threads=system.threads,
    )


def run_job(config: JobConfig) -> JobResult:
    """Run a job to the end and write its outputs under ``config.output_dir``.

    Returns:
        The :class:`JobResult`; the caller prints the summary.

    Raises:
        PipelineError: any input, config or model problem, raised before translation where possible.
    """
    corpora = [prepare_corpus(corpus) for corpus in config.corpora]
    translators = {}
    for system in config.systems:
        translator = _make_translator(system)
        pairs = [(c.config.src_lang, tgt) for c in corpora for tgt in _targets(c.config, system)]
        if not pairs:
            raise ConfigError(f"system {system.name!r} has no direction to run (its tgt_langs match no corpus)")
        for src, tgt in dict.fromkeys(pairs):
            try:
                translator.check_direction(src, tgt)
            except PipelineError as err:
                raise type(err)(f"system {system.name!r}: {err}", hint=err.hint) from err
        translators[system.name] = translator

    out_dir = config.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks: list[TaskResult] = []
    for system in config.systems:
        translator = translators.pop(system.name)
        for corpus in corpora:
            for tgt in _targets(corpus.config, system):
                tasks.append(_run_task(translator, system, corpus, tgt, out_dir))
        del translator  # one model in memory at a time

    scores_file = out_dir / "scores.json"
    payload = {
        "schema_version": SCHEMA_VERSION,
        "job": config.name,
        "config": str(config.path),
        "results": [task.to_json() for task in tasks],
    }
    write_text_atomic(scores_file, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return JobResult(name=config.name, output_dir=out_dir, scores_file=scores_file, tasks=tasks)


def _run_task(translator: Any, system: SystemConfig, corpus: PreparedCorpus, tgt: str, out_dir: Path) -> TaskResult:
    from pipeline.evaluate import align_document, score_corpus

    src = corpus.config.src_lang
    stem = f"{corpus.config.name}.{src}-{tgt}.{system.name}"
    log.info("translating %s (%d segments) with %s", corpus.config.name, len(corpus.segments), system.name)
    started = time.perf_counter()
    hypotheses = translator.translate(corpus.segments, src, tgt)
    seconds = time.perf_counter() - started

    output = out_dir / f"{stem}.txt"
    write_lines_atomic(output, hypotheses)
    jsonl = out_dir / f"{stem}.jsonl"
    with atomic_writer(jsonl) as handle:
        for n, (seg_id, source, hyp) in enumerate(zip(corpus.ids(), corpus.segments, hypotheses)):
            record = {"id": seg_id, "source": source, "translation": hyp}
            if corpus.paragraph_ids is not None:
                record["paragraph"] = corpus.paragraph_ids[n]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    document = None
    if corpus.document is not None:
        document = out_dir / f"{stem}.doc.txt"
        write_text_atomic(document, corpus.document.rebuild(hypotheses, tgt_lang=tgt))

    level = note = None
    scores: dict[str, Any] = {}
    refs = corpus.references.get(tgt)
    if refs:
        hyps, aligned_refs = hypotheses, refs
        if corpus.paragraph_ids is not None:
            alignment = align_document(hypotheses, corpus.paragraph_ids, refs, tgt_lang=tgt)
            hyps, aligned_refs, level, note = (
                alignment.hypotheses, alignment.references, alignment.level, alignment.note
            )
        else:
            level = "segment"
        scores = score_corpus(hyps, aligned_refs, tgt)
    return TaskResult(
        corpus=corpus.config.name,
        system=system.name,
        model=system.model,
        src_lang=src,
        tgt_lang=tgt,
        segments=len(corpus.segments),
        seconds=seconds,
        output=output,
        jsonl=jsonl,
        document=document,
        level=level,
        note=note,
        scores=scores,
    )
