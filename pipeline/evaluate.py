"""Score translations with sacrebleu: corpus and sentence scores, always with their signatures.

The metrics and their per-language settings are in :mod:`pipeline.metrics`;
pairing hypotheses with references is :mod:`pipeline.align`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.align import check_alignment
from pipeline.metrics import METRIC_NAMES, check_metrics, metric_for

__all__ = ["Score", "clean_score", "score_corpus", "score_sentences"]


@dataclass(frozen=True)
class Score:
    """One metric's score.

    Attributes:
        metric: the metric's name in :data:`pipeline.metrics.METRICS`.
        score: the value (BLEU, chrF: higher is better; TER: lower is better), rounded
            to 10 decimals to drop floating-point noise (a perfect BLEU is 100.0, not 100.00000000000004).
        signature: sacrebleu's reproducibility signature, e.g.
            ``nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0``.
        text: sacrebleu's formatted score with its signature, as its command line prints it:
            ``BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 34.12 65.2/40.1/27.3/19.0 (BP = ...)``.
    """

    metric: str
    score: float
    signature: str
    text: str


# --------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------


def score_corpus(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    tgt_lang: str,
    metrics: Sequence[str] = METRIC_NAMES,
    *,
    tokenize: str | None = None,
    sources: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Score]:
    """Corpus-level scores with their signatures.

    Args:
        hypotheses: one string per segment.
        references: one stream per reference, each as long as ``hypotheses``.
        tgt_lang: the target language.
        metrics: names from :data:`pipeline.metrics.METRICS`.
        tokenize: override BLEU's tokenizer (see :func:`pipeline.metrics.metric_for`).
        sources: the source sentences, for COMET.
        options: settings by metric name, for COMET (see :func:`pipeline.metrics.metric_for`).

    Returns:
        ``{metric name: Score}`` in the order of ``metrics``.

    Raises:
        InputError: the line counts differ, or there is nothing to score.
        ConfigError: an unknown metric or tokenizer.
        LanguageError: an unknown language code.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    check_metrics(metrics)
    check_alignment(hypotheses, references)
    hyps, refs = list(hypotheses), [list(stream) for stream in references]
    scorers = {name: metric_for(name, tgt_lang, tokenize=tokenize, sources=sources, options=options)
               for name in metrics}
    if "ter" in scorers:  # a line too long for TER is refused before any metric runs
        scorers["ter"].check_lines(hyps, refs)
    scores = {}
    for name, metric in scorers.items():
        result = metric.corpus_score(hyps, refs)
        signature = metric.get_signature().format()
        # The line sacrebleu's command line prints: "BLEU|nrefs:1|...|version:2.6.0 = 34.12 65.2/40.1/...".
        scores[name] = Score(name, clean_score(result.score), signature, result.format(signature=signature))
    return scores


def score_sentences(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    tgt_lang: str,
    metric: str = "chrf",
    *,
    tokenize: str | None = None,
) -> list[float]:
    """Sentence-level scores, one per hypothesis (BLEU uses ``effective_order``, as sacrebleu advises).

    Args:
        hypotheses: one string per segment.
        references: one stream per reference (sacrebleu's corpus shape).
        tgt_lang: the target language.
        metric: one name from :data:`pipeline.metrics.METRICS`.
        tokenize: override BLEU's tokenizer (see :func:`pipeline.metrics.metric_for`).

    Returns:
        One score per hypothesis.

    Raises:
        InputError: the line counts differ, or there is nothing to score.
        ConfigError: an unknown metric or tokenizer.
        LanguageError: an unknown language code.
    """
    check_metrics([metric])
    check_alignment(hypotheses, references)
    scorer = metric_for(metric, tgt_lang, sentence=True, tokenize=tokenize)
    if metric == "ter":  # with the line numbers of the whole set, before any line is scored
        scorer.check_lines(hypotheses, references)
    return [
        clean_score(scorer.sentence_score(hyp, [stream[i] for stream in references]).score)
        for i, hyp in enumerate(hypotheses)
    ]


def clean_score(score: float) -> float:
    """Drop floating-point noise (BLEU of a perfect match is 100.00000000000004), nothing else."""
    return round(float(score), 10)
