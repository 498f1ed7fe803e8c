"""``report.md``: one table per metric, systems by test sets."""

from __future__ import annotations

import re

from pipeline.reports.common import (
    FAILED,
    QE_COLUMNS,
    QE_LEGEND,
    SPEED_COLUMNS,
    SPEED_LEGEND,
    legend_lines,
    metric_title,
    problem_list,
    quality_rows,
    score_cell,
    settings_text,
    signature_list,
    speed_cells,
    testset_label,
    time_vs_baseline,
)
from pipeline.reports.formats import register_format
from pipeline.results import Comparison

# --------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------


@register_format("markdown", filename="report.md")
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
        out.append(f"| {name} | {_md(system.model)} | {_md(settings_text(system.settings)) or '—'} | {status} |")
    out.append("")

    out += ["## Scores", ""]
    headers = [
        _md(testset_label(ts)) + (f" {FAILED}" if ts.error else "") for ts in comparison.testsets
    ]
    for metric in comparison.metrics:
        out += [f"### {metric_title(metric)}", ""]
        out.append("| System | " + " | ".join(headers) + " |")
        out.append("|---|" + "---:|" * len(headers))
        for system in comparison.systems:
            name = _md(system.name) + (" (baseline)" if system.name == baseline else "")
            cells = [score_cell(comparison, ts, system.name, metric).text for ts in comparison.testsets]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    out += [f"- {_md(line)}" for line in legend_lines(comparison)]
    out.append("")

    out += ["## Speed", "", _md(SPEED_LEGEND), ""]
    out += ["| System | Test set | " + " | ".join(SPEED_COLUMNS) + " |", "|---|---|" + "---:|" * len(SPEED_COLUMNS)]
    for system in comparison.systems:
        for testset in comparison.testsets:
            speed = testset.speed.get(system.name)
            if speed is None or comparison.problem(testset, system.name):
                continue
            out.append(
                f"| {_md(system.name)} | {_md(testset_label(testset))} | "
                + " | ".join(map(_md, speed_cells(speed, time_vs_baseline(comparison, testset, system.name)))) + " |"
            )
    out.append("")

    quality = quality_rows(comparison)
    if quality:  # only then: a report without estimates keeps its old text
        out += ["## Quality estimates", "", _md(QE_LEGEND), ""]
        out += ["| System | Test set | " + " | ".join(QE_COLUMNS) + " |", "|---|---|" + "---:|" * len(QE_COLUMNS)]
        for name, testset, cells in quality:
            out.append(f"| {_md(name)} | {_md(testset_label(testset))} | " + " | ".join(map(_md, cells)) + " |")
        out.append("")

    out += ["## Signatures", ""]
    for label, signature, names in signature_list(comparison):
        out.append(f"- {label} on {_md(', '.join(names))}: {_md_code(signature)}")
    out.append("")

    problems = problem_list(comparison)
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


