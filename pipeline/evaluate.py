"""Score translations with sacrebleu: BLEU, chrF, chrF++ and TER, always with their signatures.

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

All metric construction goes through :func:`metric_for`, so the significance
tests (sacrebleu's paired bootstrap / approximate randomisation) can reuse it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from pipeline.errors import ConfigError, InputError
from pipeline.languages import (
    HAN_SCRIPTS,
    JAPANESE_SCRIPTS,
    KOREAN_SCRIPTS,
    UNSPACED_SCRIPTS,
    Language,
    is_unspaced,
    looks_unspaced,
    parse_language,
)

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric

__all__ = [
    "DEFAULT_TER_MAX_CELLS",
    "METRICS",
    "TER_MAX_CELLS_ENV",
    "Alignment",
    "Score",
    "align_document",
    "bleu_tokenizer",
    "check_alignment",
    "metric_for",
    "score_corpus",
    "score_sentences",
]

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("bleu", "chrf", "chrf++", "ter")
"""The metrics, in report order."""

_MECAB_EXTRAS = {"ja-mecab": "sacrebleu[ja]", "ko-mecab": "sacrebleu[ko]"}

TER_MAX_CELLS_ENV = "MTPIPE_TER_MAX_CELLS"
"""The environment variable that overrides :data:`DEFAULT_TER_MAX_CELLS`."""

DEFAULT_TER_MAX_CELLS = 2000 * 2000
"""The largest hypothesis words x reference words TER scores in one line.

Measured with sacrebleu 2.6 on FLORES text: 1,000 x 1,000 words took 0.17 GB
and 28 s, 2,000 x 2,000 0.31 GB and 78 s, 4,000 x 4,000 0.61 GB and 267 s.
"""


@dataclass(frozen=True)
class Score:
    """One metric's score.

    Attributes:
        metric: the metric's name in :data:`METRICS`.
        score: the value (BLEU, chrF: higher is better; TER: lower is better), rounded
            to 10 decimals to drop floating-point noise (a perfect BLEU is 100.0, not 100.00000000000004).
        signature: sacrebleu's reproducibility signature, e.g.
            ``nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0``.
        text: sacrebleu's formatted score with its signature, as its command line prints it:
            ``BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 34.12 65.2/40.1/27.3/19.0 (BP = ...)``.
    """

    metric: str
    score: float
    signature: str
    text: str


@dataclass(frozen=True)
class Alignment:
    """Hypotheses and references paired at one level, ready for :func:`score_corpus`.

    Attributes:
        hypotheses: one string per scored unit (segment or paragraph).
        references: one stream per reference, each as long as ``hypotheses``.
        level: ``"segment"`` or ``"paragraph"``.
        note: why this level was chosen; empty at segment level.
    """

    hypotheses: list[str]
    references: list[list[str]]
    level: Literal["segment", "paragraph"]
    note: str = ""


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def _language(tgt_lang: str | Language) -> Language:
    return tgt_lang if isinstance(tgt_lang, Language) else parse_language(tgt_lang)


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
    language = _language(tgt_lang)
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


def _ter_asian(language: Language) -> bool:
    return language.script in HAN_SCRIPTS | JAPANESE_SCRIPTS


def metric_for(name: str, tgt_lang: str | Language, *, sentence: bool = False, tokenize: str | None = None) -> Metric:
    """Build the sacrebleu metric object for a metric name and a target language.

    The one place where metrics are configured: corpus scores, sentence scores
    and significance tests all get their metric objects here.

    Args:
        name: one of :data:`METRICS`.
        tgt_lang: the target language; picks BLEU's tokenizer and TER's Asian support.
        sentence: configure for sentence-level scores (BLEU with ``effective_order``).
        tokenize: override BLEU's tokenizer (e.g. ``flores200``); ignored by other metrics.

    Returns:
        A ``sacrebleu.metrics`` ``BLEU``, ``CHRF`` or ``TER`` instance. The TER
        refuses lines too long for it (see :func:`ter_max_cells`) with an ``InputError``.

    Raises:
        ConfigError: the metric name or the tokenizer is unknown, or ``$MTPIPE_TER_MAX_CELLS`` is not a number.
        LanguageError: the language code is unknown.
    """
    from sacrebleu.metrics import BLEU, CHRF

    language = _language(tgt_lang)
    if name == "bleu":
        if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
            raise ConfigError(
                f"unknown BLEU tokenizer {tokenize!r} (known: {', '.join(sorted(BLEU.TOKENIZERS))})"
            )
        return BLEU(tokenize=tokenize or bleu_tokenizer(language), effective_order=sentence)
    if name == "chrf":
        return CHRF()
    if name == "chrf++":
        return CHRF(word_order=2)
    if name == "ter":
        asian = _ter_asian(language)
        return _bounded_ter()(normalized=asian, asian_support=asian, max_cells=ter_max_cells())
    raise ConfigError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")


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
    Scores are sacrebleu's own: only ``_extract_corpus_statistics``, which
    ``corpus_score``, ``sentence_score`` and the paired tests all go through,
    gets a check in front of it.
    """
    from sacrebleu.metrics import TER

    class BoundedTER(TER):
        def __init__(self, *, max_cells: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.max_cells = max_cells

        def check_lines(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
            """Refuse the first line too long to score (``references``: one stream per reference)."""
            refs = [[self._words(stream[i]) for stream in references] for i in range(len(hypotheses))]
            self._check(hypotheses, refs)

        def _extract_corpus_statistics(self, hypotheses: Sequence[str], references: Any) -> Any:
            cache = self._cache_references(references) if references else self._ref_cache
            if cache:
                self._check(hypotheses, [[len(words) for words in line["ref_words"]] for line in cache])
            return super()._extract_corpus_statistics(hypotheses, references)

        def _words(self, text: str) -> int:
            # The words TER aligns: its own tokenization, as _preprocess_segment does it.
            return len(self._preprocess_segment(text).split())

        def _check(self, hypotheses: Sequence[str], ref_words: Sequence[Sequence[int]]) -> None:
            for number, (hypothesis, counts) in enumerate(zip(hypotheses, ref_words), 1):
                longest = max(counts, default=0)
                if longest * len(hypothesis) <= self.max_cells:  # no more words than characters: cheap test first
                    continue
                words = self._words(hypothesis)
                if words * longest > self.max_cells:
                    raise InputError(
                        f"TER cannot score line {number}: its hypothesis has {words:,} words and its reference "
                        f"{longest:,}: {words * longest:,} word pairs, over the limit of {self.max_cells:,} "
                        "(TER's memory and time grow with that product)",
                        hint=f"split the line into sentences, or raise the limit: {TER_MAX_CELLS_ENV}=N "
                        f"({DEFAULT_TER_MAX_CELLS:,} took 0.3 GB and 80 s per line)",
                    )

    return BoundedTER


def _check_metrics(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS)})")


# --------------------------------------------------------------------------
# Alignment checks
# --------------------------------------------------------------------------


def check_alignment(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    names: Sequence[str] | None = None,
) -> None:
    """Check that there are references and every stream has one line per hypothesis.

    Cheap: call it before a model loads or a metric runs.

    Args:
        hypotheses: one string per segment.
        references: one stream per reference.
        names: display names: the hypotheses' file, then one per reference stream.

    Raises:
        InputError: no hypotheses, no references, or a line count differs (naming the files and both counts).
    """
    if isinstance(references, str) or (references and isinstance(references[0], str)):
        raise InputError(
            "references must be a list of streams (one list of lines per reference), got a list of strings",
            hint="wrap a single reference: [reference_lines]",
        )
    hyp_name = names[0] if names else "the hypotheses"
    ref_names = list(names[1:]) if names else []
    if len(ref_names) < len(references):
        ref_names += [f"reference {i + 1}" for i in range(len(ref_names), len(references))]
    if not hypotheses:
        raise InputError(f"{hyp_name} has no lines to score")
    if not references:
        raise InputError(f"no references to score {hyp_name} against", hint="give at least one reference file")
    for ref_name, stream in zip(ref_names, references):
        if len(stream) != len(hypotheses):
            raise InputError(
                f"line counts differ: {hyp_name} has {_count(len(hypotheses))}, {ref_name} has {_count(len(stream))}",
                hint="each reference needs exactly one line per hypothesis line, in the same order",
            )


# --------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------


def score_corpus(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    tgt_lang: str,
    metrics: Sequence[str] = METRICS,
    *,
    tokenize: str | None = None,
) -> dict[str, Score]:
    """Corpus-level scores with their signatures.

    Args:
        hypotheses: one string per segment.
        references: one stream per reference, each as long as ``hypotheses``.
        tgt_lang: the target language.
        metrics: names from :data:`METRICS`.
        tokenize: override BLEU's tokenizer (see :func:`metric_for`).

    Returns:
        ``{metric name: Score}`` in the order of ``metrics``.

    Raises:
        InputError: the line counts differ, or there is nothing to score.
        ConfigError: an unknown metric or tokenizer.
        LanguageError: an unknown language code.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    _check_metrics(metrics)
    check_alignment(hypotheses, references)
    hyps, refs = list(hypotheses), [list(stream) for stream in references]
    scorers = {name: metric_for(name, tgt_lang, tokenize=tokenize) for name in metrics}
    if "ter" in scorers:  # a line too long for TER is refused before any metric runs
        scorers["ter"].check_lines(hyps, refs)
    scores = {}
    for name, metric in scorers.items():
        result = metric.corpus_score(hyps, refs)
        signature = metric.get_signature().format()
        # The line sacrebleu's command line prints: "BLEU|nrefs:1|...|version:2.6.0 = 34.12 65.2/40.1/...".
        scores[name] = Score(name, _clean(result.score), signature, result.format(signature=signature))
    return scores


def score_sentences(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    tgt_lang: str,
    metric: str = "chrf",
    *,
    tokenize: str | None = None,
) -> list[float]:
    """Sentence-level scores, one per hypothesis (BLEU uses ``effective_order``, as sacrebleu advises).

    Args:
        hypotheses: one string per segment.
        references: one stream per reference (sacrebleu's corpus shape).
        tgt_lang: the target language.
        metric: one name from :data:`METRICS`.
        tokenize: override BLEU's tokenizer (see :func:`metric_for`).

    Returns:
        One score per hypothesis.

    Raises:
        InputError: the line counts differ, or there is nothing to score.
        ConfigError: an unknown metric or tokenizer.
        LanguageError: an unknown language code.
    """
    _check_metrics([metric])
    check_alignment(hypotheses, references)
    scorer = metric_for(metric, tgt_lang, sentence=True, tokenize=tokenize)
    if metric == "ter":  # with the line numbers of the whole set, before any line is scored
        scorer.check_lines(hypotheses, references)
    return [
        _clean(scorer.sentence_score(hyp, [stream[i] for stream in references]).score)
        for i, hyp in enumerate(hypotheses)
    ]


def _count(number: int, thing: str = "line") -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


def _clean(score: float) -> float:
    """Drop floating-point noise (BLEU of a perfect match is 100.00000000000004), nothing else."""
    return round(float(score), 10)


# --------------------------------------------------------------------------
# Paragraph-level fallback
# --------------------------------------------------------------------------


def align_document(
    hypotheses: Sequence[str],
    paragraph_ids: Sequence[int],
    references: Sequence[Sequence[str]],
    *,
    tgt_lang: str | None = None,
) -> Alignment:
    """Pair a segmented document's translations with its references.

    Rules, in order:

    1. One reference line per segment: score segments.
    2. Otherwise, score paragraphs. Each reference stream is read as
       paragraphs: blank-line-separated blocks if it has blank lines (lines
       inside a block are its segments), else one paragraph per line, which
       needs as many lines as the source has paragraphs (a stream with one
       line per segment, next to one without, is joined by paragraph). A paragraph's
       segments are joined with a space, or with nothing for Chinese and
       Japanese (``tgt_lang``, or guessed from the reference text).
    3. Anything else cannot be aligned: :class:`InputError` with the counts.

    Args:
        hypotheses: one translation per source segment.
        paragraph_ids: the source paragraph of each segment (``Document.paragraph_ids``).
        references: one stream per reference, as read from the files.
        tgt_lang: the target language, to choose the paragraph joiner.

    Returns:
        The :class:`Alignment`.

    Raises:
        InputError: the counts cannot be reconciled, or there are no references.
    """
    if len(paragraph_ids) != len(hypotheses):
        raise InputError(
            f"got {len(hypotheses)} hypotheses but {len(paragraph_ids)} paragraph ids; they must be one per segment"
        )
    if not references or (references and isinstance(references[0], str)):
        raise InputError(
            "no reference streams to align with" if not references else
            "references must be a list of streams (one list of lines per reference), got a list of strings"
        )
    if all(len(stream) == len(hypotheses) for stream in references):
        return Alignment(list(hypotheses), [list(stream) for stream in references], "segment")

    groups = _group(paragraph_ids)
    n_paragraphs = len(groups)
    unspaced = is_unspaced(tgt_lang) if tgt_lang else looks_unspaced(references)
    joiner = "" if unspaced else " "

    aligned_refs: list[list[str]] = []
    how: list[str] = []
    for number, stream in enumerate(references, 1):
        label = f"reference {number}" if len(references) > 1 else "the reference"
        if any(not line.strip() for line in stream):
            blocks = _blocks(stream)
            if len(blocks) != n_paragraphs:
                raise InputError(
                    f"cannot align the document with {label}: {_count(len(hypotheses), 'segment')} in "
                    f"{_count(n_paragraphs, 'paragraph')}, "
                    f"but {label} has {_count(len(stream))} in {_count(len(blocks), 'blank-line-separated paragraph')}",
                    hint="the reference needs one line per segment, or the same paragraphs as the source",
                )
            aligned_refs.append([_join(block, joiner) for block in blocks])
            how.append(f"{label}: {len(blocks)} blank-line-separated paragraphs")
        elif len(stream) == n_paragraphs:
            aligned_refs.append([line.strip() for line in stream])
            how.append(f"{label}: one line per paragraph")
        elif len(stream) == len(hypotheses):
            # This stream does match the segments; another one does not, so all go to paragraphs.
            aligned_refs.append([_join([stream[i] for i in group], joiner) for group in groups])
            how.append(f"{label}: one line per segment, joined by paragraph")
        else:
            raise InputError(
                f"cannot align the document with {label}: {_count(len(hypotheses), 'segment')} in "
                f"{_count(n_paragraphs, 'paragraph')}, but {label} has {_count(len(stream))}",
                hint=(
                    f"give a reference with {_count(len(hypotheses))} (one per segment), "
                    f"{_count(n_paragraphs)} (one per paragraph), or paragraphs separated by blank lines"
                ),
            )
    hyps = [_join([hypotheses[i] for i in group], joiner) for group in groups]
    note = (
        f"scored at paragraph level ({_count(n_paragraphs, 'paragraph')}): the document was cut into "
        f"{_count(len(hypotheses), 'segment')} "
        f"but the reference lines do not match them one to one ({'; '.join(how)})"
    )
    return Alignment(hyps, aligned_refs, "paragraph", note)


def _group(paragraph_ids: Sequence[int]) -> list[list[int]]:
    """Segment indexes grouped by paragraph, in document order (a paragraph is a run of equal ids)."""
    groups: list[list[int]] = []
    previous = object()
    for index, paragraph in enumerate(paragraph_ids):
        if paragraph != previous:
            groups.append([])
            previous = paragraph
        groups[-1].append(index)
    return groups


def _blocks(lines: Sequence[str]) -> list[list[str]]:
    """Blank-line-separated blocks of non-blank lines."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _join(pieces: Sequence[str], joiner: str) -> str:
    return joiner.join(piece.strip() for piece in pieces if piece.strip())

