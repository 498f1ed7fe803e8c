"""What the three report formats share: labels, marks, and one cell of a score table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pipeline.metrics import METRICS
from pipeline.results import Comparison, Speed, TestSetResult
from pipeline.significance import SystemStat

SCHEMA_VERSION = 2
"""The version of ``report.json``'s layout; raised on any incompatible change.

2: speed over the segments the model translated only (``segments_per_s``, ``tokens_per_s``,
``translation_seconds``), with ``segments_translated``, ``segments_from_cache`` and ``segments_resumed``.
A result's ``quality`` (quality estimates, only for systems run with ``qe = true``) is an addition
that changes nothing else, so it did not raise the version.
"""

METRIC_LABELS: dict[str, str] = {name: spec.label for name, spec in METRICS.items()}

METHOD_LABELS: dict[str, str] = {"bs": "paired bootstrap resampling", "ar": "paired approximate randomization"}

MARKS: dict[str, str] = {"better": "†", "worse": "‡"}
FAILED = "✗"

PALETTE = (  # Okabe-Ito, then Tableau: distinguishable for colour-blind readers first
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#8c564b", "#7f7f7f", "#bcbd22", "#17becf",
)


# --------------------------------------------------------------------------
# One cell of a score table: shared by the three formats
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCell:
    text: str  # "45.97 ± 1.20 †", "✗ failed", "—"
    status: str  # "ok", "failed" or "missing"
    stat: SystemStat | None = None
    outcome: str | None = None  # "better", "worse", "not significant"; None for the baseline or untested
    problem: str | None = None


def score_cell(comparison: Comparison, testset: TestSetResult, system: str, metric: str) -> ScoreCell:
    problem = comparison.problem(testset, system)
    if problem:
        return ScoreCell(f"{FAILED} {'bad test set' if testset.error else 'failed'}", "failed", problem=problem)
    stat = testset.stats.get(system, {}).get(metric)
    if stat is None:
        return ScoreCell("—", "missing")
    outcome = stat.outcome(metric)
    mark = MARKS.get(outcome or "", "")
    text = f"{stat.score:.2f} ± {stat.ci:.2f}" + (f" {mark}" if mark else "")
    return ScoreCell(text, "ok", stat, outcome)


def testset_direction(testset: TestSetResult) -> str:
    return f"{testset.src_lang}→{testset.tgt_lang}"


def testset_label(testset: TestSetResult) -> str:
    return f"{testset.name} ({testset_direction(testset)})"


def metric_title(metric: str) -> str:
    return f"{METRIC_LABELS[metric]} ({'higher' if METRICS[metric].higher_is_better else 'lower'} is better)"


def legend_lines(comparison: Comparison) -> list[str]:
    method = METHOD_LABELS[comparison.method]
    return [
        "± is half the width of the 95% confidence interval from bootstrap resampling, as sacrebleu reports it "
        "(the interval is centred on the bootstrap mean; report.json has both ends).",
        f"{MARKS['better']} significantly better than the baseline, {MARKS['worse']} significantly worse "
        f"({method}, p ≤ {comparison.alpha:g}); no mark: no significant difference.",
        f"{FAILED} no result: the system or the test set failed (see Problems); — not scored.",
        "The number of resamples or trials and the random seed are in the signatures (bs:, ar:, seed:).",
    ]


def signature_list(comparison: Comparison) -> list[tuple[str, str, list[str]]]:
    """(metric label, signature, test sets using it), each distinct signature once, in metric order."""
    found: dict[tuple[str, str], list[str]] = {}
    for metric in comparison.metrics:
        for testset in comparison.testsets:
            for system in comparison.systems:
                stat = testset.stats.get(system.name, {}).get(metric)
                if stat is not None and not comparison.problem(testset, system.name):
                    names = found.setdefault((metric, stat.signature), [])
                    label = testset_label(testset)
                    if label not in names:
                        names.append(label)
    return [(METRIC_LABELS[metric], signature, names) for (metric, signature), names in found.items()]


def problem_list(comparison: Comparison) -> list[tuple[str, str]]:
    """(what failed, why), each failure once: bad test sets, failed systems, then systems failed on a test set."""
    problems = [(f"test set {testset_label(ts)}", ts.error) for ts in comparison.testsets if ts.error]
    problems += [(f"system {s.name}", s.error) for s in comparison.systems if s.error]
    for testset in comparison.testsets:
        if testset.error:
            continue
        for system in comparison.systems:
            if not system.error and system.name in testset.errors:
                problems.append(
                    (f"system {system.name} on {testset_label(testset)}", testset.errors[system.name])
                )
    return problems


# What the speed figures cover, said wherever they are shown.
SPEED_COLUMNS = (
    "segments/s (translated segments only)", "tokens/s (translated segments only)",
    "translated", "from cache", "resumed", "peak memory (MiB)", "time vs baseline",
)
SPEED_LEGEND = (
    "segments/s and tokens/s cover only the segments the model translated, over the model's time for them "
    "(its loading included); segments from the translation cache or resumed from an interrupted run took no "
    "model time and are counted beside them, not in them. “—, all from cache” or “—, all resumed”: the model "
    "translated none. Peak memory: the process's peak resident memory during the task. Time vs baseline: "
    "the baseline's segments/s over the system's on the same test set (8.0x: 8 times the baseline's time per "
    "segment). A task finished by an earlier run is not run again: its figures are that run's."
)


def _rate_text(speed: Speed, value: float | None, digits: int = 1) -> str:
    """A speed figure, or why there is none: ``"—, all from cache"``."""
    if value is not None and math.isfinite(value):
        return f"{value:.{digits}f}"
    reason = speed.no_rate_reason
    return f"—, {reason}" if reason else "—"


def speed_cells(speed: Speed, factor: float | None = None) -> list[str]:
    """The cells of a speed row, in :data:`SPEED_COLUMNS` order (``factor``: :func:`time_vs_baseline`)."""
    return [
        _rate_text(speed, speed.segments_per_s), format_number(speed.tokens_per_s, 1),
        str(speed.segments_translated), str(speed.segments_from_cache), str(speed.segments_resumed),
        format_number(speed.peak_rss_mb, 0), "—" if factor is None else f"{factor:.1f}x",
    ]


def time_vs_baseline(comparison: Comparison, testset: TestSetResult, system: str) -> float | None:
    """The baseline's segments/s over ``system``'s on a test set: its time per segment as a multiple of the baseline's.

    ``None`` where either has no rate (all from cache or resumed, or failed).
    """
    own, base = testset.speed.get(system), testset.speed.get(comparison.baseline)
    if own is None or base is None or comparison.problem(testset, comparison.baseline):
        return None
    mine, theirs = own.segments_per_s, base.segments_per_s
    if not (mine and theirs and math.isfinite(mine) and math.isfinite(theirs)):
        return None
    return theirs / mine


QE_COLUMNS = ("threshold", "marked “check”")
QE_LEGEND = (
    "Reference-free quality estimates (qe = true), from 0 to 1: a segment whose estimate is below its "
    "system's threshold is marked “check” (report.json and each task's .jsonl list which; report.html "
    "sorts and filters by them)."
)


def quality_rows(comparison: Comparison) -> list[tuple[str, TestSetResult, list[str]]]:
    """(system, test set, cells in :data:`QE_COLUMNS` order) for each system with estimates on a test set."""
    rows = []
    for system in comparison.systems:
        for testset in comparison.testsets:
            check = comparison.to_check(testset, system.name)
            if check is not None:
                counted = sum(value is not None for value in testset.quality[system.name])
                marked = f"{sum(check)} of {counted}"
                if counted < len(check):  # some segments have no estimate
                    marked += f" estimated ({len(check)} segments)"
                rows.append((system.name, testset, [f"{system.qe_threshold:g}", marked]))
    return rows


def settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())



def format_number(value: float | None, digits: int) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"
