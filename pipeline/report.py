"""Pure functions from a :class:`~pipeline.results.Comparison` to ``report.json``, ``report.md`` and ``report.html``.

* ``report.json``: every score with its 95% confidence interval, p-value against
  the baseline and sacrebleu signature, the speed figures and every failure;
  versioned by ``schema_version``.
* ``report.md``: one table per metric, systems by test sets, ``45.97 ± 1.20 †``.
* ``report.html``: one self-contained file (inline CSS, JS and SVG; a
  Content-Security-Policy that forbids every network request) with the tables,
  a chart of each metric with its confidence intervals, and a per-sentence
  browser: source, reference and every system's output with its sentence chrF,
  sortable, filterable, worst first, with a word-level diff of two systems.

Corpus text never reaches the HTML unescaped: Jinja2 autoescapes every string,
the data for the browser is JSON with ``<``, ``>``, ``&`` and ``'`` written as
``\\u003c``..., and the script puts it in the page with ``textContent`` only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.results import Comparison, TestSetResult
from pipeline.significance import HIGHER_IS_BETTER, SystemStat
from pipeline.textio import write_text_atomic

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = [
    "METRIC_LABELS",
    "SCHEMA_VERSION",
    "build_json",
    "render_html",
    "render_markdown",
    "write_reports",
]

SCHEMA_VERSION = 1
"""The version of ``report.json``'s layout; raised on any incompatible change."""

METRIC_LABELS: dict[str, str] = {"bleu": "BLEU", "chrf": "chrF", "chrf++": "chrF++", "ter": "TER"}

METHOD_LABELS: dict[str, str] = {"bs": "paired bootstrap resampling", "ar": "paired approximate randomization"}

MARKS: dict[str, str] = {"better": "†", "worse": "‡"}
FAILED = "✗"

REPORT_FILES = ("report.json", "report.md", "report.html")

_PALETTE = (  # Okabe-Ito, then Tableau: distinguishable for colour-blind readers first
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#8c564b", "#7f7f7f", "#bcbd22", "#17becf",
)


# --------------------------------------------------------------------------
# One cell of a score table: shared by the three formats
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    text: str  # "45.97 ± 1.20 †", "✗ failed", "—"
    status: str  # "ok", "failed" or "missing"
    stat: SystemStat | None = None
    outcome: str | None = None  # "better", "worse", "not significant"; None for the baseline or untested
    problem: str | None = None


def _cell(comparison: Comparison, testset: TestSetResult, system: str, metric: str) -> _Cell:
    problem = comparison.problem(testset, system)
    if problem:
        return _Cell(f"{FAILED} {'bad test set' if testset.error else 'failed'}", "failed", problem=problem)
    stat = testset.stats.get(system, {}).get(metric)
    if stat is None:
        return _Cell("—", "missing")
    outcome = stat.outcome(metric)
    mark = MARKS.get(outcome or "", "")
    text = f"{stat.score:.2f} ± {stat.ci:.2f}" + (f" {mark}" if mark else "")
    return _Cell(text, "ok", stat, outcome)


def _direction(testset: TestSetResult) -> str:
    return f"{testset.src_lang}→{testset.tgt_lang}"


def _label(testset: TestSetResult) -> str:
    return f"{testset.name} ({_direction(testset)})"


def _metric_title(metric: str) -> str:
    return f"{METRIC_LABELS[metric]} ({'higher' if HIGHER_IS_BETTER[metric] else 'lower'} is better)"


def _legend(comparison: Comparison) -> list[str]:
    method = METHOD_LABELS[comparison.method]
    return [
        "± is half the width of the 95% confidence interval from bootstrap resampling, as sacrebleu reports it "
        "(the interval is centred on the bootstrap mean; report.json has both ends).",
        f"{MARKS['better']} significantly better than the baseline, {MARKS['worse']} significantly worse "
        f"({method}, p ≤ {comparison.alpha:g}); no mark: no significant difference.",
        f"{FAILED} no result: the system or the test set failed (see Problems); — not scored.",
        "The number of resamples or trials and the random seed are in the signatures (bs:, ar:, seed:).",
    ]


def _signatures(comparison: Comparison) -> list[tuple[str, str, list[str]]]:
    """(metric label, signature, test sets using it), each distinct signature once, in metric order."""
    found: dict[tuple[str, str], list[str]] = {}
    for metric in comparison.metrics:
        for testset in comparison.testsets:
            for system in comparison.systems:
                stat = testset.stats.get(system.name, {}).get(metric)
                if stat is not None and not comparison.problem(testset, system.name):
                    names = found.setdefault((metric, stat.signature), [])
                    label = _label(testset)
                    if label not in names:
                        names.append(label)
    return [(METRIC_LABELS[metric], signature, names) for (metric, signature), names in found.items()]


def _problems(comparison: Comparison) -> list[tuple[str, str]]:
    """(what failed, why), each failure once: bad test sets, failed systems, then systems failed on a test set."""
    problems = [(f"test set {_label(ts)}", ts.error) for ts in comparison.testsets if ts.error]
    problems += [(f"system {s.name}", s.error) for s in comparison.systems if s.error]
    for testset in comparison.testsets:
        if testset.error:
            continue
        for system in comparison.systems:
            if not system.error and system.name in testset.errors:
                problems.append(
                    (f"system {system.name} on {_label(testset)}", testset.errors[system.name])
                )
    return problems


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())


# --------------------------------------------------------------------------
# report.json
# --------------------------------------------------------------------------


def build_json(comparison: Comparison) -> dict[str, Any]:
    """The content of ``report.json``: ``schema_version``, systems, and per test set each system's result.

    Each result is ``{"error": str | null, "scores": {metric: {...}}, "speed": {...} | null}``; a
    score carries ``score``, ``mean``, ``ci`` (half-width), ``ci_low``, ``ci_high``, ``p_value``,
    ``delta`` (vs the baseline), ``significant``, ``outcome`` and ``signature``.

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
                "scores": {metric: _stat_json(stats[metric], metric) for metric in comparison.metrics if metric in stats},
                "speed": None if speed is None else {
                    "segments_per_second": _number(speed.segments_per_second),
                    "tokens_per_second": _number(speed.tokens_per_second),
                    "peak_rss_mb": _number(speed.peak_rss_mb),
                },
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


# --------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------


def render_markdown(comparison: Comparison) -> str:
    """``report.md``: systems, one score table per metric, legend, speed, signatures and problems.

    Args:
        comparison: the results to report.

    Returns:
        The Markdown text, ending with a newline.
    """
    baseline = comparison.baseline
    out = [f"# Comparison: {_md(comparison.job)}", ""]
    out += [f"Baseline: **{_md(baseline)}**. "
            f"{len(comparison.systems)} systems, {len(comparison.testsets)} test sets.", ""]

    out += ["## Systems", "", "| System | Model | Settings | Status |", "|---|---|---|---|"]
    for system in comparison.systems:
        name = _md(system.name) + (" (baseline)" if system.name == baseline else "")
        status = f"{FAILED} failed" if system.error else "ok"
        out.append(f"| {name} | {_md(system.model)} | {_md(_settings_text(system.settings)) or '—'} | {status} |")
    out.append("")

    out += ["## Scores", ""]
    headers = [
        _md(_label(ts)) + (f" {FAILED}" if ts.error else "") for ts in comparison.testsets
    ]
    for metric in comparison.metrics:
        out += [f"### {_metric_title(metric)}", ""]
        out.append("| System | " + " | ".join(headers) + " |")
        out.append("|---|" + "---:|" * len(headers))
        for system in comparison.systems:
            name = _md(system.name) + (" (baseline)" if system.name == baseline else "")
            cells = [_cell(comparison, ts, system.name, metric).text for ts in comparison.testsets]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    out += [f"- {_md(line)}" for line in _legend(comparison)]
    out.append("")

    out += ["## Speed", "", "| System | Test set | segments/s | tokens/s | peak memory (MiB) |", "|---|---|---:|---:|---:|"]
    for system in comparison.systems:
        for testset in comparison.testsets:
            speed = testset.speed.get(system.name)
            if speed is None or comparison.problem(testset, system.name):
                continue
            out.append(
                f"| {_md(system.name)} | {_md(_label(testset))} | "
                f"{_format(speed.segments_per_second, 1)} | {_format(speed.tokens_per_second, 1)} | "
                f"{_format(speed.peak_rss_mb, 0)} |"
            )
    out.append("")

    out += ["## Signatures", ""]
    for label, signature, names in _signatures(comparison):
        out.append(f"- {label} on {_md(', '.join(names))}: {_md_code(signature)}")
    out.append("")

    problems = _problems(comparison)
    if problems:
        out += ["## Problems", ""]
        out += [f"- {FAILED} {_md(what)}: {_md_code(why)}" for what, why in problems]
        out.append("")
    return "\n".join(out)


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~&#"})


def _md(text: str) -> str:
    """Text that Markdown shows as is, on one line and inside a table cell."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def _md_code(text: str) -> str:
    """A code span that holds any text (a fence longer than its longest run of backticks)."""
    text = " ".join(str(text).split())
    longest = max(map(len, re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _format(value: float | None, digits: int) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


# --------------------------------------------------------------------------
# report.html
# --------------------------------------------------------------------------


def render_html(comparison: Comparison) -> str:
    """``report.html``: one self-contained page (no network request) with tables, charts and the sentence browser.

    Computes each system's sentence-level chrF (``pipeline.evaluate.score_sentences``) for the browser.

    Args:
        comparison: the results to report.

    Returns:
        The HTML text.
    """
    env = _environment()
    script = env.loader.get_source(env, "report.js")[0]
    style = env.loader.get_source(env, "report.css")[0]
    return env.get_template("report.html.j2").render(
        comparison=comparison,
        baseline=comparison.baseline,
        legend=_legend(comparison),
        method=METHOD_LABELS[comparison.method],
        systems=[
            {"name": s.name, "model": s.model, "settings": _settings_text(s.settings), "error": s.error,
             "color": _color(i)}
            for i, s in enumerate(comparison.systems)
        ],
        testsets=[
            {"label": _label(ts), "error": ts.error, "segments": len(ts.sources)}
            for ts in comparison.testsets
        ],
        tables=[_html_table(comparison, metric) for metric in comparison.metrics],
        charts=[_chart(comparison, metric) for metric in comparison.metrics],
        speed=_speed_rows(comparison),
        signatures=_signatures(comparison),
        problems=_problems(comparison),
        data=_browser_data(comparison),
        style=style,
        script=script,
        script_hash=_csp_hash(script),
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline", "templates"),
        autoescape=True,  # every corpus string is escaped, whatever the template's extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # |tojson writes <, >, & and ' as \u003c... so no string can close the <script> it sits in.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False, "separators": (",", ":")}
    return env


def _csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script and no other."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _color(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def _html_table(comparison: Comparison, metric: str) -> dict[str, Any]:
    rows = []
    for system in comparison.systems:
        cells = []
        for testset in comparison.testsets:
            cell = _cell(comparison, testset, system.name, metric)
            if cell.stat is not None:
                stat = cell.stat
                title = f"{METRIC_LABELS[metric]} {stat.score:.2f}, 95% CI {stat.ci_low:.2f}–{stat.ci_high:.2f}"
                if stat.p_value is not None and stat.delta is not None:
                    title += f", {stat.delta:+.2f} vs the baseline, p = {stat.p_value:.4f}"
                sort_value = f"{stat.score:.10g}"
            else:
                title, sort_value = cell.problem or "no score", ""
            cells.append({"text": cell.text, "status": cell.status, "outcome": (cell.outcome or "").replace(" ", "-"),
                          "title": title, "sort": sort_value})
        rows.append({"system": system.name, "baseline": system.name == comparison.baseline, "cells": cells})
    return {"title": _metric_title(metric), "rows": rows}


def _speed_rows(comparison: Comparison) -> list[dict[str, str]]:
    rows = []
    for system in comparison.systems:
        for testset in comparison.testsets:
            speed = testset.speed.get(system.name)
            if speed is not None and not comparison.problem(testset, system.name):
                rows.append({
                    "system": system.name,
                    "testset": _label(testset),
                    "segments": _format(speed.segments_per_second, 1),
                    "tokens": _format(speed.tokens_per_second, 1),
                    "memory": _format(speed.peak_rss_mb, 0),
                })
    return rows


# --------------------------------------------------------------------------
# The charts: a dot per score, a bar per confidence interval, grouped by test set
# --------------------------------------------------------------------------

_LEFT, _RIGHT, _TOP, _PLOT_HEIGHT, _BOTTOM = 56, 16, 14, 200, 40
_SLOT, _GROUP_GAP = 30, 28


def _chart(comparison: Comparison, metric: str) -> dict[str, Any]:
    values = [
        value
        for ts in comparison.testsets
        for system in comparison.systems
        if not comparison.problem(ts, system.name) and (stat := ts.stats.get(system.name, {}).get(metric))
        for value in (stat.score, stat.ci_low, stat.ci_high)
    ]
    if not values:
        return {"title": _metric_title(metric), "empty": True}
    # sacrebleu's intervals are symmetric, so on a few segments they can reach past what the metric can score.
    floor, ceiling = 0.0, (math.inf if metric == "ter" else 100.0)
    ticks = _ticks(max(min(values), floor), min(max(values), ceiling))
    low, high = max(ticks[0], floor), min(ticks[-1], ceiling)
    ticks = [tick for tick in ticks if low <= tick <= high]

    def y(value: float) -> float:
        value = min(max(value, low), high)
        return round(_TOP + _PLOT_HEIGHT * (high - value) / (high - low), 1)

    groups, x = [], _LEFT + _GROUP_GAP / 2
    for testset in comparison.testsets:
        slots = []
        for index, system in enumerate(comparison.systems):
            cx = round(x + _SLOT * (index + 0.5), 1)
            problem = comparison.problem(testset, system.name)
            stat = None if problem else testset.stats.get(system.name, {}).get(metric)
            slot: dict[str, Any] = {"x": cx, "system": system.name, "color": _color(index)}
            if stat is not None:
                slot.update(score=y(stat.score), low=y(stat.ci_low), high=y(stat.ci_high), title=(
                    f"{system.name} on {testset.name}: {METRIC_LABELS[metric]} {stat.score:.2f} "
                    f"(95% CI {stat.ci_low:.2f}–{stat.ci_high:.2f})"
                    + (f", p = {stat.p_value:.4f} vs {comparison.baseline}" if stat.p_value is not None else "")
                ), mark=MARKS.get(stat.outcome(metric) or "", ""))
            else:
                slot.update(failed=bool(problem), title=f"{system.name} on {testset.name}: {problem or 'no score'}")
            slots.append(slot)
        width = _SLOT * len(comparison.systems)
        base = None if comparison.problem(testset, comparison.baseline) else (
            testset.stats.get(comparison.baseline, {}).get(metric)
        )
        groups.append({
            "label": testset.name, "direction": _direction(testset), "x0": round(x, 1), "x1": round(x + width, 1),
            "center": round(x + width / 2, 1), "slots": slots, "error": testset.error,
            "baseline": None if base is None else y(base.score),
        })
        x += width + _GROUP_GAP
    return {
        "title": _metric_title(metric),
        "empty": False,
        "width": round(x - _GROUP_GAP / 2 + _RIGHT),
        "height": _TOP + _PLOT_HEIGHT + _BOTTOM,
        "left": _LEFT,
        "top": _TOP,
        "bottom": _TOP + _PLOT_HEIGHT,
        "ticks": [{"y": y(tick), "label": f"{tick:g}"} for tick in ticks],
        "groups": groups,
        "fail_y": _TOP + _PLOT_HEIGHT - 6,
        "label_y": _TOP + _PLOT_HEIGHT + 16,
        "direction_y": _TOP + _PLOT_HEIGHT + 30,
    }


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) that enclose [low, high]."""
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(k * step, 10) for k in range(first, last + 1)]


# --------------------------------------------------------------------------
# The sentence browser's data
# --------------------------------------------------------------------------


def _browser_data(comparison: Comparison) -> dict[str, Any]:
    from pipeline.evaluate import score_sentences

    testsets = []
    for testset in comparison.testsets:
        if testset.error:
            continue
        systems, notes = [], []
        for system in comparison.systems:
            hypotheses = testset.hypotheses.get(system.name)
            problem = comparison.problem(testset, system.name)
            if problem:
                notes.append(f"{system.name}: {FAILED} failed: {problem}")
            elif hypotheses is None:
                notes.append(f"{system.name}: no output")
            elif len(hypotheses) != len(testset.sources):
                notes.append(f"{system.name}: {len(hypotheses)} output lines for {len(testset.sources)} segments")
            else:
                chrf = (
                    score_sentences(hypotheses, testset.references, testset.tgt_lang, "chrf")
                    if testset.references else None
                )
                systems.append({"name": system.name, "hyps": hypotheses,
                                "chrf": None if chrf is None else [round(score, 2) for score in chrf]})
        testsets.append({
            "label": _label(testset),
            "sources": testset.sources,
            "references": testset.references,
            "systems": systems,
            "notes": notes,
        })
    return {"baseline": comparison.baseline, "testsets": testsets}


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def write_reports(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir``, each atomically.

    All three are rendered before the first is written, so a rendering error leaves
    the directory as it was.

    Args:
        comparison: the results to report.
        out_dir: the directory (created if needed).

    Returns:
        The three paths, in that order.
    """
    texts = (
        json.dumps(build_json(comparison), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        render_markdown(comparison),
        render_html(comparison),
    )
    paths = [Path(out_dir) / name for name in REPORT_FILES]
    for path, text in zip(paths, texts):
        write_text_atomic(path, text)
    return paths
