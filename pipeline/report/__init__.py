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

import json
from pathlib import Path

from pipeline.report.common import METRIC_LABELS, REPORT_FILES, SCHEMA_VERSION
from pipeline.report.data import build_json
from pipeline.report.markdown import render_markdown
from pipeline.report.page import render_html
from pipeline.results import Comparison
from pipeline.textio import write_text_atomic

__all__ = [
    "METRIC_LABELS",
    "SCHEMA_VERSION",
    "build_json",
    "render_html",
    "render_markdown",
    "write_reports",
]


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

