"""The output formats: registries filled by decorators, so choices and error messages come from one place.

* :data:`FORMATS`: the reports of a comparison (``json``, ``markdown``, ``html``),
  each rendered from a :class:`~pipeline.results.Comparison` into its own file.
* :data:`SCORE_FORMATS`: what ``mtpipe evaluate`` prints for a set of corpus
  scores (``text``, ``json``).

A renderer only renders: every figure it shows was computed before (scores and
tests in :mod:`pipeline.significance`, sentence chrF in :mod:`pipeline.compare`).
Adding a format is one decorated function::

    @register_format("csv", filename="report.csv")
    def render_csv(comparison: Comparison) -> str:
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from pipeline.evaluate import Score
    from pipeline.results import Comparison

__all__ = [
    "FORMATS",
    "SCORE_FORMATS",
    "ReportFormat",
    "ScoreFormat",
    "register_format",
    "register_score_format",
    "render_scores",
    "report_format",
]

ReportRenderer = Callable[["Comparison"], str]
ScoreRenderer = Callable[[Mapping[str, "Score"]], str]


@dataclass(frozen=True)
class ReportFormat:
    """A registered report format.

    Attributes:
        name: its name (``markdown``).
        filename: the file :func:`pipeline.reports.write_reports` writes it to (``report.md``).
        render: the comparison -> the file's text.
    """

    name: str
    filename: str
    render: ReportRenderer


@dataclass(frozen=True)
class ScoreFormat:
    """A registered format for corpus scores (``mtpipe evaluate --format``).

    Attributes:
        name: its name (``text``).
        description: one line for ``--help``.
        render: ``{metric: Score}`` -> the text to print.
    """

    name: str
    description: str
    render: ScoreRenderer


FORMATS: dict[str, ReportFormat] = {}
"""Report formats by name, in the order their files are written."""

SCORE_FORMATS: dict[str, ScoreFormat] = {}
"""Score formats by name; the first is the default."""


def register_format(name: str, *, filename: str) -> Callable[[ReportRenderer], ReportRenderer]:
    """Register a report renderer under ``name``, written to ``filename`` (a decorator).

    Raises:
        ValueError: the name or the file name is taken.
    """

    def register(render: ReportRenderer) -> ReportRenderer:
        if name in FORMATS or filename in (f.filename for f in FORMATS.values()):
            raise ValueError(f"report format {name!r} or its file {filename!r} is already registered")
        FORMATS[name] = ReportFormat(name, filename, render)
        return render

    return register


def register_score_format(name: str, *, description: str) -> Callable[[ScoreRenderer], ScoreRenderer]:
    """Register a renderer of corpus scores under ``name`` (a decorator).

    Raises:
        ValueError: the name is taken.
    """

    def register(render: ScoreRenderer) -> ScoreRenderer:
        if name in SCORE_FORMATS:
            raise ValueError(f"score format {name!r} is already registered")
        SCORE_FORMATS[name] = ScoreFormat(name, description, render)
        return render

    return register


def report_format(name: str) -> ReportFormat:
    """The report format called ``name``.

    Raises:
        ConfigError: no such format (the message lists the known ones).
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown report format {name!r} (known: {', '.join(FORMATS)})") from None


def render_scores(name: str, scores: Mapping[str, Score]) -> str:
    """Corpus scores in the score format called ``name``.

    Raises:
        ConfigError: no such format (the message lists the known ones).
    """
    if name not in SCORE_FORMATS:
        raise ConfigError(f"unknown score format {name!r} (known: {', '.join(SCORE_FORMATS)})")
    return SCORE_FORMATS[name].render(scores)
