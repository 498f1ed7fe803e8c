"""The metrics: a registry of sacrebleu's BLEU, chrF, chrF++ and TER, each configured for the target language.

The target language picks the settings that make a score meaningful for it:

* BLEU tokenizer: ``zh`` for Chinese (any Han script), ``ja-mecab`` for
  Japanese and ``ko-mecab`` for Korean, as sacrebleu's ``-l xx-zh`` does;
  ``char`` for other scripts written without spaces (Thai, Lao, Khmer,
  Burmese, Tibetan), ``13a`` for everything else. MeCab is an optional extra
  (``pip install 'sacrebleu[ja]'`` / ``'sacrebleu[ko]'``): without it
  Japanese and Korean fall back to ``char`` with a logged warning, and the
  signature says ``tok:char``, so the score is never mislabelled.
* TER for Chinese and Japanese: ``normalized=True, asian_support=True``.
  sacrebleu applies its Asian rules (one token per Han character, CJK
  punctuation split off) only when normalisation is on; ``asian_support``
  alone would leave a whole unspaced sentence as one TER "word".
  Hangul is not touched by those rules, so Korean keeps the defaults.
* chrF and chrF++ work on characters and need no language settings.
* TER's memory and time grow with the product of a line's hypothesis and
  reference words (sacrebleu fills an edit-distance table of that size, again
  for every shift it tries): one line of 17,000 words took 6.7 GB. A line
  whose table would exceed :data:`DEFAULT_TER_MAX_CELLS` cells (or
  ``$MTPIPE_TER_MAX_CELLS``) is refused with an error naming it, before
  any work; 2,000 x 2,000 words took 0.3 GB and 80 s here.

All metric construction goes through :func:`metric_for`, so corpus scores,
sentence scores and the significance tests get the same settings.

Adding a metric is one decorated function::

    @register_metric("chrf3", label="chrF3", higher_is_better=True)
    def _chrf3(language, *, sentence, tokenize, references):
        from sacrebleu.metrics import CHRF
        return CHRF(beta=3, references=references)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, InputError
from pipeline.languages import (
    HAN_SCRIPTS,
    JAPANESE_SCRIPTS,
    KOREAN_SCRIPTS,
    UNSPACED_SCRIPTS,
    Language,
    parse_language,
)

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric

__all__ = [
    "DEFAULT_TER_MAX_CELLS",
    "METRICS",
    "METRIC_NAMES",
    "TER_MAX_CELLS_ENV",
    "MetricSpec",
    "bleu_tokenizer",
    "check_metrics",
    "metric_for",
    "register_metric",
    "ter_max_cells",
]

logger = logging.getLogger(__name__)

_MECAB_EXTRAS = {"ja-mecab": "sacrebleu[ja]", "ko-mecab": "sacrebleu[ko]"}

TER_MAX_CELLS_ENV = "MTPIPE_TER_MAX_CELLS"
"""The environment variable that overrides :data:`DEFAULT_TER_MAX_CELLS`."""

DEFAULT_TER_MAX_CELLS = 2000 * 2000
"""The largest hypothesis words x reference words TER scores in one line.

Measured with sacrebleu 2.6 on FLORES text: 1,000 x 1,000 words took 0.17 GB
and 28 s, 2,000 x 2,000 0.31 GB and 78 s, 4,000 x 4,000 0.61 GB and 267 s.
"""

Builder = Callable[..., "Metric"]
"""``builder(language, *, sentence, tokenize, references) -> sacrebleu Metric``; a metric that
needs the sources (COMET) also gets ``sources=`` and ``options=`` (its settings)."""


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes:
        name: its name in job files, ``score_corpus`` and ``report.json`` (``bleu``).
        label: its display name in the reports (``BLEU``).
        higher_is_better: ``False`` for error rates (TER).
        build: makes the configured sacrebleu metric (see :func:`metric_for`).
        default: computed when no metrics are named (COMET is not: it needs a model and its own environment).
        needs_sources: scores with the source sentences too (COMET).
    """

    name: str
    label: str
    higher_is_better: bool
    build: Builder
    default: bool = True
    needs_sources: bool = False


METRICS: dict[str, MetricSpec] = {}
"""Every metric by name, in report order (the order of registration)."""


def register_metric(
    name: str, *, label: str, higher_is_better: bool, default: bool = True, needs_sources: bool = False
) -> Callable[[Builder], Builder]:
    """Register a metric builder under ``name`` (a decorator; see :class:`MetricSpec` for the flags).

    Raises:
        ValueError: the name is taken.
    """

    def register(build: Builder) -> Builder:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered")
        METRICS[name] = MetricSpec(name, label, higher_is_better, build, default, needs_sources)
        return build

    return register


def check_metrics(names: Sequence[str]) -> None:
    """Refuse the first name that is not in :data:`METRICS`.

    Raises:
        ConfigError: naming the metric and listing the known ones.
    """
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS)})")


def metric_for(
    name: str,
    tgt_lang: str | Language,
    *,
    sentence: bool = False,
    tokenize: str | None = None,
    references: Sequence[Sequence[str]] | None = None,
    sources: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Metric:
    """Build the sacrebleu metric object for a metric name and a target language.

    The one place where metrics are configured: corpus scores, sentence scores
    and significance tests all get their metric objects here.

    Args:
        name: one of :data:`METRICS`.
        tgt_lang: the target language; picks BLEU's tokenizer and TER's Asian support.
        sentence: configure for sentence-level scores (BLEU with ``effective_order``).
        tokenize: override BLEU's tokenizer (e.g. ``flores200``); ignored by other metrics.
        references: one stream per reference, preprocessed once now (sacrebleu's ``references=``)
            so that scoring several systems does not preprocess them again.
        sources: the source sentences, for a metric that needs them (COMET).
        options: settings by metric name (``{"comet": {"model": ..., "python": ...}}``), for COMET.

    Returns:
        A ``sacrebleu.metrics`` ``BLEU``, ``CHRF`` or ``TER`` instance. The TER
        refuses lines too long for it (see :func:`ter_max_cells`) with an ``InputError``.

    Raises:
        ConfigError: the metric name or the tokenizer is unknown, or ``$MTPIPE_TER_MAX_CELLS`` is not a number.
        InputError: the metric needs the sources and none were given.
        LanguageError: the language code is unknown.
    """
    check_metrics([name])
    spec = METRICS[name]
    language = tgt_lang if isinstance(tgt_lang, Language) else parse_language(tgt_lang)
    if not spec.needs_sources:
        return spec.build(language, sentence=sentence, tokenize=tokenize, references=references)
    if sources is None:
        raise InputError(f"{spec.label} scores with the source sentences, and none were given",
                         hint="mtpipe evaluate: add --source FILE")
    return spec.build(language, sentence=sentence, tokenize=tokenize, references=references,
                      sources=sources, options=(options or {}).get(name))


# --------------------------------------------------------------------------
# The metrics, in report order
# --------------------------------------------------------------------------


@register_metric("bleu", label="BLEU", higher_is_better=True)
def _bleu(language: Language, *, sentence: bool, tokenize: str | None, references: Any) -> Metric:
    from sacrebleu.metrics import BLEU

    if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
        raise ConfigError(f"unknown BLEU tokenizer {tokenize!r} (known: {', '.join(sorted(BLEU.TOKENIZERS))})")
    return BLEU(tokenize=tokenize or bleu_tokenizer(language), effective_order=sentence, references=references)


@register_metric("chrf", label="chrF", higher_is_better=True)
def _chrf(language: Language, *, sentence: bool, tokenize: str | None, references: Any) -> Metric:
    from sacrebleu.metrics import CHRF

    return CHRF(references=references)


@register_metric("chrf++", label="chrF++", higher_is_better=True)
def _chrf_plus(language: Language, *, sentence: bool, tokenize: str | None, references: Any) -> Metric:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2, references=references)


@register_metric("ter", label="TER", higher_is_better=False)
def _ter(language: Language, *, sentence: bool, tokenize: str | None, references: Any) -> Metric:
    asian = language.script in HAN_SCRIPTS | JAPANESE_SCRIPTS
    return _bounded_ter()(normalized=asian, asian_support=asian, max_cells=ter_max_cells(), references=references)


@register_metric("comet", label="COMET", higher_is_better=True, default=False, needs_sources=True)
def _comet(language: Language, *, sentence: bool, tokenize: str | None, references: Any, sources: Sequence[str],
           options: Mapping[str, Any] | None) -> Metric:
    from pipeline.comet import CometSettings, comet_metric

    settings = options if isinstance(options, CometSettings) else CometSettings.from_options(options)
    return comet_metric(settings, sources, references)


METRIC_NAMES: tuple[str, ...] = tuple(name for name, spec in METRICS.items() if spec.default)
"""The default metrics' names, in report order (BLEU, chrF, chrF++, TER; COMET only when named)."""


# --------------------------------------------------------------------------
# BLEU's tokenizer
# --------------------------------------------------------------------------


def bleu_tokenizer(tgt_lang: str | Language) -> str:
    """The sacrebleu BLEU tokenizer used for a target language.

    Args:
        tgt_lang: the target language (``zh-Hans``, ``ja``, ``pt-BR``...).

    Returns:
        ``zh``, ``ja-mecab``, ``ko-mecab``, ``char`` or ``13a``. For Japanese and
        Korean without MeCab installed: ``char`` (and a warning is logged once).

    Raises:
        LanguageError: the code is not a known language.
    """
    language = tgt_lang if isinstance(tgt_lang, Language) else parse_language(tgt_lang)
    # By script, so that zh-Hant, yue and zh-Hans all get the Chinese tokenizer
    # (sacrebleu's own trg_lang mapping knows only the exact codes zh, ja and ko).
    if language.script in HAN_SCRIPTS:
        return "zh"
    if language.script in JAPANESE_SCRIPTS:
        return _mecab_or_char("ja-mecab")
    if language.script in KOREAN_SCRIPTS:
        return _mecab_or_char("ko-mecab")
    if language.script in UNSPACED_SCRIPTS:
        return "char"
    return "13a"


@cache
def _mecab_or_char(tokenizer: str) -> str:
    """``tokenizer`` if its MeCab dictionary loads, else ``char`` with a warning (once per process)."""
    from sacrebleu.metrics import BLEU

    try:
        BLEU(tokenize=tokenizer)  # loads the MeCab dictionary, or fails
    except (RuntimeError, ImportError, AssertionError) as err:
        logger.debug("cannot load BLEU tokenizer %r: %s", tokenizer, err)
        logger.warning(
            "BLEU tokenizer %r needs MeCab and its dictionary, which are not installed: using 'char' "
            "(the signature says tok:char). For scores comparable with published ones: pip install '%s'",
            tokenizer,
            _MECAB_EXTRAS[tokenizer],
        )
        return "char"
    return tokenizer


# --------------------------------------------------------------------------
# TER's limit on a line's size
# --------------------------------------------------------------------------


def ter_max_cells() -> int:
    """The largest hypothesis words x reference words TER scores in one line.

    ``$MTPIPE_TER_MAX_CELLS`` if set, else :data:`DEFAULT_TER_MAX_CELLS`.

    Raises:
        ConfigError: the variable is not a whole number of at least 1.
    """
    value = os.environ.get(TER_MAX_CELLS_ENV, "").strip()
    if not value:
        return DEFAULT_TER_MAX_CELLS
    try:
        cells = int(value.replace("_", ""))
    except ValueError:
        cells = 0
    if cells < 1:
        raise ConfigError(f"{TER_MAX_CELLS_ENV} must be a whole number of at least 1, got {value!r}")
    return cells


@cache
def _bounded_ter() -> type:
    """sacrebleu's TER, refusing a line before scoring it when its edit-distance table would be too large.

    Made on first use, so that importing this module does not import sacrebleu.
    Scores are sacrebleu's own: the check runs in front of the statistics that
    ``corpus_score``, ``sentence_score`` and the paired tests all go through
    (the hook is :func:`pipeline.sacrebleu_compat.checked_ter`).
    """
    from pipeline.sacrebleu_compat import checked_ter

    class BoundedTER(checked_ter()):
        def __init__(self, *, max_cells: int, **kwargs: Any) -> None:
            self.max_cells = max_cells
            super().__init__(**kwargs)

        def check_lines(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
            """Refuse the first line too long to score (``references``: one stream per reference)."""
            refs = [[self.words(stream[i]) for stream in references] for i in range(len(hypotheses))]
            self.check_line_sizes(hypotheses, refs)

        def check_line_sizes(self, hypotheses: Sequence[str], ref_word_counts: Sequence[Sequence[int]]) -> None:
            for number, (hypothesis, counts) in enumerate(zip(hypotheses, ref_word_counts, strict=False), 1):
                longest = max(counts, default=0)
                if longest * len(hypothesis) <= self.max_cells:  # no more words than characters: cheap test first
                    continue
                words = self.words(hypothesis)
                if words * longest > self.max_cells:
                    raise InputError(
                        f"TER cannot score line {number}: its hypothesis has {words:,} words and its reference "
                        f"{longest:,}: {words * longest:,} word pairs, over the limit of {self.max_cells:,} "
                        "(TER's memory and time grow with that product)",
                        hint=f"split the line into sentences, or raise the limit: {TER_MAX_CELLS_ENV}=N "
                        f"({DEFAULT_TER_MAX_CELLS:,} took 0.3 GB and 80 s per line)",
                    )

    return BoundedTER
