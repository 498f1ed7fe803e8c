"""Compare a job's systems: confidence intervals, paired significance tests, sentence chrF, and the reports.

Built on a finished :class:`pipeline.jobs.JobResult`, so every system's
translations are computed once (by the job) and reused for every metric.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.backends import backend_for
from pipeline.config import JobConfig, SystemConfig
from pipeline.corpora import PreparedCorpus
from pipeline.evaluate import score_sentences
from pipeline.jobs import JobResult, run_job
from pipeline.reports import write_reports
from pipeline.results import Comparison, SystemInfo, TestSetResult
from pipeline.significance import Method, compare_systems

__all__ = ["compare_job", "build_comparison"]

log = logging.getLogger(__name__)


def compare_job(
    config: JobConfig, *, out_dir: Path | None = None, method: Method = "bs", n: int | None = None, seed: int = 12345,
    **run_options: Any,
) -> tuple[JobResult, Comparison, list[Path]]:
    """Run a job in keep-going mode, then write ``report.json``, ``report.md`` and ``report.html``.

    Args:
        config: the job; its first system is the baseline.
        out_dir: where the reports go (default: the job's output folder).
        method: the paired test, ``"bs"`` (bootstrap resampling) or ``"ar"`` (approximate randomization).
        n: resamples or trials (``None``: sacrebleu's defaults).
        seed: the random seed of the resampling.
        **run_options: passed on to :func:`pipeline.jobs.run_job` (``cache``, ``progress``).

    Returns:
        The job's result, the comparison and the report files.
    """
    job = run_job(config, keep_going=True, **run_options)
    comparison = build_comparison(config, job, method=method, n=n, seed=seed)
    return job, comparison, write_reports(comparison, out_dir or job.output_dir)


def build_comparison(
    config: JobConfig, job: JobResult, *, method: Method = "bs", n: int | None = None, seed: int = 12345
) -> Comparison:
    """Turn a job's results into a :class:`Comparison` with statistics for every test set."""
    systems = [
        SystemInfo(
            name=s.name,
            model=s.model,
            settings=_settings(s),
            error=job.system_errors.get(s.name),
            qe_threshold=s.qe_threshold if s.qe else None,
        )
        for s in config.systems
    ]
    baseline = config.systems[0].name
    testsets: list[TestSetResult] = []
    prepared = {c.config.name: c for c in job.corpora}
    for corpus in config.corpora:
        if corpus.name in job.corpus_errors:
            for tgt in corpus.tgt_langs:
                error = job.corpus_errors[corpus.name]
                testsets.append(TestSetResult(corpus.name, corpus.src_lang, tgt, [], [], error=error))
            continue
        for tgt in corpus.tgt_langs:
            testsets.append(_testset(prepared[corpus.name], tgt, job, baseline, method=method, n=n, seed=seed,
                                     metrics=config.metrics, options=dict(config.metric_options)))
    return Comparison(job=config.name, baseline=baseline, systems=systems, testsets=testsets, method=method,
                      metrics=config.metrics)


def _settings(system: SystemConfig) -> dict[str, object]:
    return backend_for(system.model, system.backend).settings(system)


def _testset(
    corpus: PreparedCorpus, tgt: str, job: JobResult, baseline: str, *, method: Method, n: int | None, seed: int,
    metrics: tuple[str, ...], options: dict[str, Any],
) -> TestSetResult:
    name, src = corpus.config.name, corpus.config.src_lang
    tasks = [t for t in job.tasks if t.corpus == name and t.tgt_lang == tgt]
    references = corpus.references.get(tgt)
    if not references:
        return TestSetResult(name, src, tgt, list(corpus.segments), [], error=f"no reference for {tgt}")
    sources = list(corpus.segments)
    hypotheses = {t.system: t.hypotheses for t in tasks if t.error is None}
    if corpus.paragraph_ids is not None:
        from pipeline.align import align_document

        # Score (and show) documents the way the job did: by segment, or by paragraph.
        source_alignment = align_document(sources, corpus.paragraph_ids, references, tgt_lang=src)
        if source_alignment.level == "paragraph":
            sources = source_alignment.hypotheses
            references = source_alignment.references
            hypotheses = {
                system: align_document(hyps, corpus.paragraph_ids, corpus.references[tgt], tgt_lang=tgt).hypotheses
                for system, hyps in hypotheses.items()
            }
    stats = {}
    if hypotheses:
        ordered = dict(sorted(hypotheses.items(), key=lambda item: item[0] != baseline))
        stats = compare_systems(
            ordered, references, tgt, method=method, n=n, seed=seed, paired=baseline in hypotheses and len(ordered) > 1,
            metrics=metrics, sources=sources, options=options,
        )
    # Each system's chrF per segment, for the reports' sentence browser.
    sentence_chrf = {
        system: score_sentences(hyps, references, tgt, "chrf")
        for system, hyps in hypotheses.items()
        if len(hyps) == len(sources)
    }
    # Each system's quality estimates per segment, as its .jsonl holds them. A document scored by
    # paragraph shows paragraphs, which have no estimate of their own: none is shown there.
    quality = {
        t.system: list(t.quality)
        for t in tasks
        if t.error is None and t.quality is not None and len(t.quality) == len(sources)
    }
    speed = {t.system: t.speed for t in tasks if t.error is None and t.speed is not None}
    errors = {t.system: t.error for t in tasks if t.error}
    return TestSetResult(
        name=name, src_lang=src, tgt_lang=tgt, sources=sources, references=references,
        hypotheses=hypotheses, stats=stats, sentence_chrf=sentence_chrf, speed=speed, errors=errors,
        quality=quality,
    )
