"""Confidence intervals and paired significance tests, computed by sacrebleu itself.

For each metric, :func:`compare_systems` runs ``sacrebleu.significance.PairedTest``,
the code behind ``sacrebleu --paired-bs`` / ``--paired-ar``, so that a score, its
95% confidence interval and its p-value against the baseline are exactly what
the ``sacrebleu`` command line prints for the same files and ``SACREBLEU_SEED``:

* ``"bs"``: paired bootstrap resampling (Koehn, 2004). ``n`` resamples (default
  1000) give both the p-value and every system's confidence interval.
* ``"ar"``: paired approximate randomization (Riezler and Maxwell, 2005). ``n``
  trials (default 10000) give the p-value; ``ci_n`` bootstrap resamples give the
  confidence intervals (sacrebleu's ``n_ar_confidence``; its command line has no
  flag for it and reports no interval with ``--paired-ar``).

The confidence interval is sacrebleu's: the bootstrap mean plus or minus half
the width of the central 95% of the resampled scores.

Sentence statistics are metric-specific (BLEU's n-gram counts, chrF's character
n-grams, TER's edits), so they cannot be shared between metrics; within a
metric, the references are preprocessed once per test set and each system's
statistics are extracted once, then reused for its score, its interval and its
test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.align import check_alignment
from pipeline.errors import ConfigError, InputError
from pipeline.evaluate import clean_score
from pipeline.metrics import METRIC_NAMES, METRICS, metric_for
from pipeline.sacrebleu_compat import seed_paired_test

__all__ = [
    "DEFAULT_SAMPLES",
    "METHODS",
    "Method",
    "Outcome",
    "SystemStat",
    "compare_systems",
]

Method = Literal["bs", "ar"]
"""``bs``: paired bootstrap resampling; ``ar``: paired approximate randomization."""

METHODS: tuple[str, ...] = ("bs", "ar")

DEFAULT_SAMPLES: dict[str, int] = {"bs": 1000, "ar": 10000}
"""sacrebleu's defaults: bootstrap resamples for ``bs``, randomization trials for ``ar``."""

Outcome = Literal["better", "worse", "not significant"]


@dataclass(frozen=True)
class SystemStat:
    """One system's score on one metric and test set, with its interval and its test against the baseline.

    Attributes:
        score: the corpus score, as ``score_corpus`` gives it.
        mean: the mean of the bootstrap resampled scores.
        ci: half the width of the 95% confidence interval (sacrebleu's ``±``).
        p_value: the paired test's p-value against the baseline; ``None`` for the
            baseline itself, or when no paired test was run.
        significant: ``p_value <= alpha`` (sacrebleu marks such a p-value with ``*``) and the
            scores differ. sacrebleu gives a zero difference p = 1/(n+1) on purpose (a system
            tested against itself "should not be attributed to chance"); a tie is no win
            or loss, so it is not marked significant here.
        signature: sacrebleu's signature, with the resamples (``bs:``), trials (``ar:``)
            and ``seed:``, e.g. ``nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``.
        delta: ``score`` minus the baseline's score; ``None`` when ``p_value`` is.
    """

    score: float
    mean: float
    ci: float
    p_value: float | None
    significant: bool
    signature: str
    delta: float | None = None

    @property
    def ci_low(self) -> float:
        """The lower end of the 95% confidence interval."""
        return clean_score(self.mean - self.ci)

    @property
    def ci_high(self) -> float:
        """The upper end of the 95% confidence interval."""
        return clean_score(self.mean + self.ci)

    def outcome(self, metric: str) -> Outcome | None:
        """How this system compares with the baseline on ``metric`` (for TER, lower is better).

        Returns:
            ``"better"``, ``"worse"`` or ``"not significant"``; ``None`` without a paired
            test (the baseline itself, or ``paired=False``).
        """
        if self.p_value is None or self.delta is None:
            return None
        if not self.significant:
            return "not significant"
        return "better" if (self.delta > 0) == METRICS[metric].higher_is_better else "worse"


def compare_systems(
    hypotheses: Mapping[str, Sequence[str]],
    references: Sequence[Sequence[str]],
    tgt_lang: str,
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    method: Method = "bs",
    n: int | None = None,
    ci_n: int = 1000,
    seed: int = 12345,
    alpha: float = 0.05,
    paired: bool = True,
    tokenize: str | None = None,
    sources: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, SystemStat]]:
    """Score systems on one test set, with 95% confidence intervals and paired tests against the baseline.

    Args:
        hypotheses: system name -> one output line per segment; the first system is the baseline.
        references: one stream per reference, each as long as every system's output.
        tgt_lang: the target language (picks BLEU's tokenizer and TER's settings, see ``metric_for``).
        metrics: names from ``pipeline.metrics.METRICS``.
        method: ``"bs"`` (paired bootstrap resampling) or ``"ar"`` (approximate randomization).
        n: resamples (``bs``) or trials (``ar``); ``None`` for sacrebleu's default (1000 / 10000).
        ci_n: bootstrap resamples for the confidence intervals with ``ar`` (with ``bs``, ``n`` serves both).
        seed: the random seed, as ``SACREBLEU_SEED`` gives it to the command line (0 or more).
        alpha: the significance level: ``significant`` is ``p_value <= alpha``.
        paired: ``False`` to skip the tests (e.g. the baseline failed on this test set): every
            system gets its score and interval (sacrebleu's ``--confidence``), and no p-value.
        tokenize: override BLEU's tokenizer (see ``metric_for``).
        sources: the source sentences, for COMET.
        options: settings by metric name, for COMET (see ``metric_for``).

    Returns:
        ``{system: {metric: SystemStat}}``, systems and metrics in the order given.

    Note:
        sacrebleu takes its seed from the ``SACREBLEU_SEED`` environment variable only, so it is
        set for the duration of the call (and restored): do not run two calls at once in threads.

    Raises:
        InputError: no systems, no references, or a line count differs.
        ConfigError: an unknown metric, method or tokenizer, or a bad ``n``, ``ci_n``, ``seed`` or ``alpha``.
        LanguageError: an unknown language code.
    """
    from sacrebleu.significance import PairedTest

    if method not in METHODS:
        raise ConfigError(f"unknown significance method {method!r} (known: {', '.join(METHODS)})")
    for name, value in (("n", n), ("ci_n", ci_n)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be a positive number of resamples, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a whole number of at least 0, got {seed!r}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha!r}")
    metrics = tuple(dict.fromkeys((metrics,) if isinstance(metrics, str) else metrics))
    if not metrics:
        raise ConfigError(f"no metrics to compute (known: {', '.join(METRICS)})")
    if not hypotheses:
        raise InputError("no systems to compare")
    for system, lines in hypotheses.items():
        check_alignment(lines, references, names=[f"system {system!r}"])

    refs = [list(stream) for stream in references]
    scorers = {name: metric_for(name, tgt_lang, tokenize=tokenize, references=refs, sources=sources, options=options)
               for name in metrics}  # the references preprocessed once, not once per system
    samples = n or DEFAULT_SAMPLES[method]
    named = [(system, list(lines)) for system, lines in hypotheses.items()]

    if paired:
        runs = [(named, method, samples, ci_n if method == "ar" else -1)]
    else:
        ci_samples = samples if method == "bs" else ci_n
        runs = [([system], "bs", ci_samples, -1) for system in named]

    stats: dict[str, dict[str, SystemStat]] = {system: {} for system, _ in named}
    with _sacrebleu_seed(seed):
        for systems, test_type, n_samples, n_ar_confidence in runs:
            test = PairedTest(
                systems,
                scorers,
                references=None,  # each scorer holds its preprocessed references
                test_type=test_type,
                n_samples=n_samples,
                n_ar_confidence=n_ar_confidence,
            )
            if seed == 0:  # PairedTest would run its tests unseeded (see seed_paired_test)
                seed_paired_test(test, seed)
            signatures, results = test()
            names = results.pop("System")
            # PairedTest keys its results by sacrebleu's display names (BLEU, chrF2, chrF2++, TER),
            # in the order of the scorers it was given.
            for metric, key in zip(metrics, signatures, strict=True):
                signature = signatures[key].format()
                baseline_score = results[key][0].score
                for position, (system, result) in enumerate(zip(names, results[key], strict=True)):
                    stats[system][metric] = _stat(result, signature, alpha, baseline_score if position else None)
    return stats


def _stat(result: Any, signature: str, alpha: float, baseline_score: float | None) -> SystemStat:
    p_value = None if result.p_value is None else float(result.p_value)
    delta = None if p_value is None or baseline_score is None else clean_score(result.score - baseline_score)
    return SystemStat(
        score=clean_score(result.score),
        mean=clean_score(result.mean),
        ci=clean_score(result.ci),
        p_value=p_value,
        significant=p_value is not None and p_value <= alpha and delta != 0,
        signature=signature,
        delta=delta,
    )


@contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    """Set ``SACREBLEU_SEED`` for the duration: sacrebleu reads its seed from there and nowhere else."""
    previous = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = previous
