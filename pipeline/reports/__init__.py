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

Systems run with ``qe = true`` add their quality estimates: per segment in
``report.json``, the segments marked "check" counted in ``report.md``, and in
the browser a QE column per system, sortable, with ⚑ on the segments below the
threshold and a filter for them. A comparison without estimates gives the same
files, byte for byte, as before they existed.

The formats are a registry (:data:`FORMATS`, see :mod:`pipeline.reports.formats`);
renderers only render what the comparison already holds.

Corpus text never reaches the HTML unescaped: Jinja2 autoescapes every string,
the data for the browser is JSON with ``<``, ``>``, ``&`` and ``'`` written as
``\\u003c``..., and the script puts it in the page with ``textContent`` only.
"""

from __future__ import annotations

from pathlib import Path

# Importing the renderers registers them, in this order: the order of FORMATS and of the files.
from pipeline.reports.common import METRIC_LABELS, SCHEMA_VERSION
from pipeline.reports.data import build_json, render_json
from pipeline.reports.formats import FORMATS, SCORE_FORMATS, render_scores, report_format
from pipeline.reports.markdown import render_markdown
from pipeline.reports.page import render_html
from pipeline.reports.scores import scores_json, scores_text
from pipeline.results import Comparison
from pipeline.textio import write_text_atomic

__all__ = [
    "FORMATS",
    "METRIC_LABELS",
    "SCHEMA_VERSION",
    "SCORE_FORMATS",
    "build_json",
    "render_html",
    "render_json",
    "render_markdown",
    "render_scores",
    "report_format",
    "scores_json",
    "scores_text",
    "write_reports",
]


def write_reports(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Write every format of :data:`FORMATS` (``report.json``, ``report.md``, ``report.html``) into ``out_dir``.

    Each file is written atomically, and all are rendered before the first is written,
    so a rendering error leaves the directory as it was.

    Args:
        comparison: the results to report.
        out_dir: the directory (created if needed).

    Returns:
        The paths, in the order of :data:`FORMATS`.
    """
    texts = [(Path(out_dir) / fmt.filename, fmt.render(comparison)) for fmt in FORMATS.values()]
    for path, text in texts:
        write_text_atomic(path, text)
    return [path for path, _ in texts]
