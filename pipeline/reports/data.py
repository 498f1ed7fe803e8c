"""``report.json``: every score with its interval, p-value and signature; speed; failures."""

from __future__ import annotations

import json
import math
from typing import Any

from pipeline.reports.common import SCHEMA_VERSION, time_vs_baseline
from pipeline.reports.formats import register_format
from pipeline.results import Comparison
from pipeline.significance import SystemStat

# --------------------------------------------------------------------------
# report.json
# --------------------------------------------------------------------------


@register_format("json", filename="report.json")
def render_json(comparison: Comparison) -> str:
    """``report.json``: :func:`build_json`, indented, non-ASCII kept, no NaN or infinity."""
    return json.dumps(build_json(comparison), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def build_json(comparison: Comparison) -> dict[str, Any]:
    """The content of ``report.json``: ``schema_version``, systems, and per test set each system's result.

    Each result is ``{"error": str | null, "scores": {metric: {...}}, "speed": {...} | null}``; a
    score carries ``score``, ``mean``, ``ci`` (half-width), ``ci_low``, ``ci_high``, ``p_value``,
    ``delta`` (vs the baseline), ``significant``, ``outcome`` and ``signature``. The speed carries
    ``segments_translated``, ``segments_from_cache``, ``segments_resumed``, ``translation_seconds``
    (the model's time for the translated segments), ``segments_per_s`` and ``tokens_per_s`` (over
    the translated segments only; ``null`` when none was translated) and ``peak_rss_mb``.
    A system run with ``qe = true`` also has ``"quality"``: ``threshold``, ``estimates`` (its
    reference-free quality estimate per segment, as its ``.jsonl`` holds it; ``null`` for none),
    ``check`` (per segment: the estimate is below the threshold) and ``to_check`` (how many are).

    Args:
        comparison: the results to report.

    Returns:
        A JSON-ready dict (finite numbers only; anything else becomes ``null``).
    """
    testsets = []
    for testset in comparison.testsets:
        results = {}
        for system in comparison.systems:
            problem = comparison.problem(testset, system.name)
            stats = {} if problem else testset.stats.get(system.name, {})
            speed = None if problem else testset.speed.get(system.name)
            results[system.name] = {
                "error": problem,
                "scores": {
                    metric: _stat_json(stats[metric], metric) for metric in comparison.metrics if metric in stats
                },
                "speed": None if speed is None else {
                    **{key: _number(value) for key, value in speed.to_json().items()},
                    "time_vs_baseline": _number(time_vs_baseline(comparison, testset, system.name)),
                },
            }
            check = comparison.to_check(testset, system.name)
            if check is not None:  # only then: a report without estimates keeps its old layout
                results[system.name]["quality"] = {
                    "threshold": system.qe_threshold,
                    "to_check": sum(check),
                    "estimates": [_number(value) for value in testset.quality[system.name]],
                    "check": check,
                }
        testsets.append({
            "name": testset.name,
            "src_lang": testset.src_lang,
            "tgt_lang": testset.tgt_lang,
            "segments": len(testset.sources),
            "references": len(testset.references),
            "error": testset.error,
            "results": results,
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "job": comparison.job,
        "baseline": comparison.baseline,
        "method": f"paired-{comparison.method}",
        "alpha": comparison.alpha,
        "metrics": list(comparison.metrics),
        "systems": [
            {"name": s.name, "model": s.model, "settings": s.settings, "error": s.error} for s in comparison.systems
        ],
        "testsets": testsets,
    }


def _stat_json(stat: SystemStat, metric: str) -> dict[str, Any]:
    return {
        "score": _number(stat.score),
        "mean": _number(stat.mean),
        "ci": _number(stat.ci),
        "ci_low": _number(stat.ci_low),
        "ci_high": _number(stat.ci_high),
        "p_value": _number(stat.p_value),
        "delta": _number(stat.delta),
        "significant": stat.significant,
        "outcome": stat.outcome(metric),
        "signature": stat.signature,
    }


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None

