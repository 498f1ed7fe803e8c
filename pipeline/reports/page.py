"""``report.html``: one self-contained page with tables, charts and a per-sentence browser."""

from __future__ import annotations

import base64
import hashlib
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pipeline.reports.common import (
    FAILED,
    MARKS,
    METHOD_LABELS,
    METRIC_LABELS,
    PALETTE,
    SPEED_COLUMNS,
    SPEED_LEGEND,
    legend_lines,
    metric_title,
    problem_list,
    score_cell,
    settings_text,
    signature_list,
    speed_cells,
    testset_direction,
    testset_label,
    time_vs_baseline,
)
from pipeline.reports.formats import register_format
from pipeline.results import Comparison, Speed

if TYPE_CHECKING:
    from jinja2 import Environment


# --------------------------------------------------------------------------
# report.html
# --------------------------------------------------------------------------


@register_format("html", filename="report.html")
def render_html(comparison: Comparison) -> str:
    """``report.html``: one self-contained page (no network request) with tables, charts and the sentence browser.

    The sentence browser shows each system's sentence chrF as the comparison holds it
    (:attr:`~pipeline.results.TestSetResult.sentence_chrf`, computed by :mod:`pipeline.compare`)
    and, for the systems that have them, its quality estimates
    (:attr:`~pipeline.results.TestSetResult.quality`), sortable, with ⚑ on the segments to check.

    Args:
        comparison: the results to report.

    Returns:
        The HTML text.
    """
    env = _environment()
    # The quality-estimate parts of the page, script and style are in {% if qe %} blocks: a report
    # without estimates is the page it was before they existed, byte for byte.
    qe = comparison.has_quality
    script = env.get_template("report.js").render(qe=qe)
    style = env.get_template("report.css").render(qe=qe)
    return env.get_template("report.html.j2").render(
        qe=qe,
        comparison=comparison,
        baseline=comparison.baseline,
        legend=legend_lines(comparison),
        method=METHOD_LABELS[comparison.method],
        systems=[
            {"name": s.name, "model": s.model, "settings": settings_text(s.settings), "error": s.error,
             "color": _color(i)}
            for i, s in enumerate(comparison.systems)
        ],
        testsets=[
            {"label": testset_label(ts), "error": ts.error, "segments": len(ts.sources)}
            for ts in comparison.testsets
        ],
        tables=[_html_table(comparison, metric) for metric in comparison.metrics],
        charts=[_chart(comparison, metric) for metric in comparison.metrics],
        speed=_speed_rows(comparison),
        speed_columns=SPEED_COLUMNS,
        speed_legend=SPEED_LEGEND,
        speed_chart=_speed_chart(comparison),
        signatures=signature_list(comparison),
        problems=problem_list(comparison),
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
    return PALETTE[index % len(PALETTE)]


def _html_table(comparison: Comparison, metric: str) -> dict[str, Any]:
    rows = []
    for system in comparison.systems:
        cells = []
        for testset in comparison.testsets:
            cell = score_cell(comparison, testset, system.name, metric)
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
    return {"title": metric_title(metric), "rows": rows}


def _speed_rows(comparison: Comparison) -> list[dict[str, Any]]:
    rows = []
    for system in comparison.systems:
        for testset in comparison.testsets:
            speed = testset.speed.get(system.name)
            if speed is not None and not comparison.problem(testset, system.name):
                factor = time_vs_baseline(comparison, testset, system.name)
                cells = speed_cells(speed, factor)
                values = [speed.segments_per_s, speed.tokens_per_s, speed.segments_translated,
                          speed.segments_from_cache, speed.segments_resumed, speed.peak_rss_mb, factor]
                rows.append({
                    "system": system.name,
                    "testset": testset_label(testset),
                    # Sorting by a figure puts the rows without one last.
                    "cells": [{"text": text, "sort": "" if value is None else f"{value:.10g}"}
                              for text, value in zip(cells, values, strict=True)],
                })
    return rows


# The speed chart: a bar per system and test set, segments/s of the translated segments.
_SPEED_LABEL, _SPEED_BAR, _SPEED_ROW, _SPEED_TOP = 300, 360, 22, 8


def _total(speed: Speed) -> int:
    return speed.segments_translated + speed.segments_from_cache + speed.segments_resumed


def _speed_chart(comparison: Comparison) -> dict[str, Any]:
    entries = [
        (testset, index, system, speed)
        for testset in comparison.testsets
        for index, system in enumerate(comparison.systems)
        if (speed := testset.speed.get(system.name)) is not None and not comparison.problem(testset, system.name)
    ]
    rates = [speed.segments_per_s for *_, speed in entries if speed.segments_per_s is not None]
    top = max((rate for rate in rates if math.isfinite(rate)), default=0.0)
    rows = []
    for row, (testset, index, system, speed) in enumerate(entries):
        rate, text = speed.segments_per_s, speed_cells(speed)[0]
        drawn = rate is not None and math.isfinite(rate) and top > 0
        if drawn:
            figure = f"{text} segments/s over the translated segments"
        else:
            figure = f"no segments/s ({speed.no_rate_reason or 'not a number'})"
        rows.append({
            "y": _SPEED_TOP + row * _SPEED_ROW,
            "label": f"{system.name} · {testset_label(testset)}",
            "color": _color(index),
            "width": round(_SPEED_BAR * rate / top, 1) if drawn else 0,
            "text": f"{text} ({speed.segments_translated} of {_total(speed)} translated)" if drawn else text,
            "title": f"{system.name} on {testset_label(testset)}: {figure}; {speed.segments_translated} translated, "
                     f"{speed.segments_from_cache} from cache, {speed.segments_resumed} resumed",
        })
    return {
        "rows": rows,
        "label_x": _SPEED_LABEL - 8,
        "bar_x": _SPEED_LABEL,
        "row_height": _SPEED_ROW,
        "width": _SPEED_LABEL + _SPEED_BAR + 220,  # room for the figure after the longest bar
        "height": _SPEED_TOP * 2 + _SPEED_ROW * len(rows),
    }


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
        return {"title": metric_title(metric), "empty": True}
    # sacrebleu's intervals are symmetric, so on a few segments they can reach past what the metric can score.
    # (TER has no ceiling; COMET's regressors have no bounds at all.)
    floor, ceiling = {"ter": (0.0, math.inf), "comet": (-math.inf, math.inf)}.get(metric, (0.0, 100.0))
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
            "label": testset.name, "direction": testset_direction(testset),
            "x0": round(x, 1), "x1": round(x + width, 1),
            "center": round(x + width / 2, 1), "slots": slots, "error": testset.error,
            "baseline": None if base is None else y(base.score),
        })
        x += width + _GROUP_GAP
    return {
        "title": metric_title(metric),
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
                chrf = testset.sentence_chrf.get(system.name) if testset.references else None
                entry: dict[str, Any] = {"name": system.name, "hyps": hypotheses,
                                         "chrf": None if chrf is None else [round(score, 2) for score in chrf]}
                check = comparison.to_check(testset, system.name)
                if check is not None:  # only then: a report without estimates keeps its old data
                    estimates = [
                        value if value is not None and math.isfinite(value) else None
                        for value in testset.quality[system.name]
                    ]
                    entry.update(qe=estimates, threshold=system.qe_threshold, check=check)
                systems.append(entry)
        testsets.append({
            "label": testset_label(testset),
            "sources": testset.sources,
            "references": testset.references,
            "systems": systems,
            "notes": notes,
        })
    return {"baseline": comparison.baseline, "testsets": testsets}

