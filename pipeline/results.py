"""What a comparison of systems produced: the input of the report builders in :mod:`pipeline.reports`.

A system can fail as a whole (its model is missing: :attr:`SystemInfo.error`) or
on one test set (it stopped halfway: :attr:`TestSetResult.errors`); a test set
can be unusable (:attr:`TestSetResult.error`). The reports mark each failure and
still show everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError
from pipeline.measure import Speed
from pipeline.metrics import METRIC_NAMES, check_metrics
from pipeline.significance import Method, SystemStat

__all__ = ["Comparison", "Speed", "SystemInfo", "SystemStat", "TestSetResult"]


@dataclass(frozen=True)
class SystemInfo:
    """A system as the job configured it.

    Attributes:
        name: its name in the job, unique.
        model: the model it loads (a Hub id or a path).
        settings: its decoding settings (``beam``, ``max_length``...), shown as given.
        error: why it produced nothing at all (e.g. its model is missing), or ``None``.
        qe_threshold: for a system with quality estimates (``qe = true``), the estimate below which
            a segment is marked "check"; ``None`` for the others.
    """

    name: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    sentence_chrf: dict[str, list[float]] = field(default_factory=dict)
    qe_threshold: float | None = None


@dataclass(frozen=True)
class TestSetResult:
    """Every system's outputs, scores and speed on one test set in one direction.

    Attributes:
        name: the test set's name.
        src_lang: the source language.
        tgt_lang: the target language.
        sources: one source segment per line.
        references: one stream per reference (sacrebleu's shape), each as long as ``sources``.
        hypotheses: system name -> its output lines (only the systems that produced output).
        stats: system name -> metric -> :class:`SystemStat` (from ``compare_systems``).
        speed: system name -> :class:`Speed`.
        errors: system name -> why it failed on this test set (its partial output may be in ``hypotheses``).
        error: why the test set itself cannot be used (a missing or misaligned file), or ``None``.
        sentence_chrf: system name -> its chrF per segment (``score_sentences``), for the systems
            with one output line per segment; the reports show it, they do not compute it.
        quality: system name -> its reference-free quality estimate per segment (``None`` where a
            segment has none), for the systems run with ``qe = true`` and one estimate per shown segment.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    name: str
    src_lang: str
    tgt_lang: str
    sources: list[str]
    references: list[list[str]]
    hypotheses: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, dict[str, SystemStat]] = field(default_factory=dict)
    speed: dict[str, Speed] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    sentence_chrf: dict[str, list[float]] = field(default_factory=dict)
    quality: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """A job's systems compared on its test sets, against a baseline.

    Attributes:
        job: the job's name.
        baseline: the name of the system the others are tested against.
        systems: every system, in report order, including the failed ones.
        testsets: one result per test set and direction.
        metrics: the metrics to report, names from ``pipeline.metrics.METRICS``.
        method: the paired test: ``"bs"`` (bootstrap resampling) or ``"ar"`` (approximate randomization).
        alpha: the significance level the tests used.

    Raises:
        ConfigError: the baseline is not one of the systems, or two systems share a name.
    """

    job: str
    baseline: str
    systems: list[SystemInfo]
    testsets: list[TestSetResult]
    metrics: tuple[str, ...] = METRIC_NAMES
    method: Method = "bs"
    alpha: float = 0.05

    def __post_init__(self) -> None:
        names = [system.name for system in self.systems]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"system names must be unique, got {', '.join(map(repr, duplicates))} more than once")
        if self.baseline not in names:
            raise ConfigError(
                f"baseline {self.baseline!r} is not one of the systems (systems: {', '.join(names) or 'none'})"
            )
        check_metrics(self.metrics)

    def system(self, name: str) -> SystemInfo:
        """The :class:`SystemInfo` called ``name``.

        Raises:
            ConfigError: no system has that name.
        """
        for system in self.systems:
            if system.name == name:
                return system
        raise ConfigError(f"unknown system {name!r} (systems: {', '.join(s.name for s in self.systems)})")

    def problem(self, testset: TestSetResult, system: str) -> str | None:
        """Why ``system`` has no result on ``testset`` (the test set's error first), or ``None``."""
        if testset.error:
            return f"test set {testset.name!r} cannot be used: {testset.error}"
        return self.system(system).error or testset.errors.get(system)

    def to_check(self, testset: TestSetResult, system: str) -> list[bool] | None:
        """Which of ``system``'s segments on ``testset`` are marked "check" (estimate below its threshold).

        ``None`` when the system has no estimates there (or a problem); a segment without an estimate is not marked.
        """
        threshold = self.system(system).qe_threshold
        estimates = testset.quality.get(system)
        if threshold is None or estimates is None or self.problem(testset, system):
            return None
        return [value is not None and value < threshold for value in estimates]

    @property
    def has_quality(self) -> bool:
        """Whether any system has quality estimates on any test set the reports show."""
        return any(self.to_check(testset, system.name) is not None
                   for testset in self.testsets for system in self.systems)
