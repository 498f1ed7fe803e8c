"""Split documents into paragraphs and sentences, remembering where each came from.

A document is cut into paragraphs at line breaks (every non-empty line is a
paragraph, headlines included) and each paragraph into sentences by a
maintained segmentation library (a *backend*). Every :class:`Segment` keeps
its character span in the document, so :meth:`Document.rebuild` can put the
translations back in place with the original layout: blank lines,
indentation and the whitespace between sentences.

:func:`split_long` is the guard used by the translator for segments longer
than a model's token budget.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from pipeline.errors import ConfigError, InputError
from pipeline.languages import Language, parse_language

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "Document",
    "Segment",
    "Segmenter",
    "is_unspaced",
    "split_long",
]

logger = logging.getLogger(__name__)

# Scripts written without spaces between words (and between sentences).
_UNSPACED_SCRIPTS = frozenset({"Hans", "Hant", "Hani", "Jpan", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})


def is_unspaced(lang: str | Language) -> bool:
    """Tell whether a language is written without spaces between words (zh, ja, th...).

    Args:
        lang: a language code (``zh-Hans``, ``ja``) or a parsed :class:`Language`.

    Raises:
        LanguageError: the code is not a known language.
    """
    language = lang if isinstance(lang, Language) else parse_language(lang)
    return language.script in _UNSPACED_SCRIPTS


# --------------------------------------------------------------------------
# Long-segment guard
# --------------------------------------------------------------------------

# Clause boundaries, strongest first. A cut goes right after the match, so
# the punctuation stays with the clause it ends. ASCII marks only count when
# followed by a space, so "1,000", "10:30" and "e-mail" are never cut;
# full-width CJK marks need no space.
_CLAUSE_LEVELS: tuple[re.Pattern[str], ...] = (
    re.compile(r"[;\u061b](?=\s)|[\uff1b\u3002\uff01\uff1f\u0964\u0965]"),  # ; ؛ ； 。 ！ ？ । ॥
    re.compile(r":(?=\s)|\uff1a"),  # : ：
    re.compile(r"\s[\u2013\u2014\u2015-]+(?=\s)|[\u2014\u2015]+"),  # " - ", " – ", "—"
    re.compile(r"[,\u060c](?=\s)|[\uff0c\u3001]"),  # , ، ， 、
)


def split_long(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Split a segment that is too long for a model into pieces within the budget.

    The text is cut at clause boundaries first (``;``, ``:``, dashes, ``,`` and
    their CJK/Arabic forms, strongest first), packing neighbouring clauses
    together while they fit; a clause that is still too long is cut at the
    next weaker boundary, then into runs of words, and as a last resort into
    runs of characters (the only option for scripts without spaces).

    Every piece is a stripped substring of ``text`` and the pieces are in
    order, so ``" ".join(pieces)`` equals ``text`` up to whitespace.

    Args:
        text: one segment.
        max_tokens: the budget, at least 1.
        count_tokens: the model's token counter for a string.

    Returns:
        ``[text]`` unchanged if it fits (or has no non-space character);
        otherwise the pieces, each within ``max_tokens`` unless a single
        character alone exceeds it.

    Raises:
        ConfigError: ``max_tokens`` is smaller than 1.
    """
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens!r}")
    if not text.strip() or count_tokens(text) <= max_tokens:
        return [text]

    def fits(piece: str) -> bool:
        return count_tokens(piece) <= max_tokens

    return _split(text.strip(), 0, fits)


def _split(text: str, level: int, fits: Callable[[str], bool]) -> list[str]:
    """Split ``text`` (stripped, known too long) at boundaries of ``level`` or weaker."""
    if level < len(_CLAUSE_LEVELS):
        cuts = [m.end() for m in _CLAUSE_LEVELS[level].finditer(text) if 0 < m.end() < len(text)]
        if not cuts:
            return _split(text, level + 1, fits)
        bounds = [0, *cuts, len(text)]
        atoms = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    elif level == len(_CLAUSE_LEVELS):
        atoms = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        if len(atoms) < 2:
            return _split(text, level + 1, fits)
    else:
        return _split_chars(text, fits)

    pieces: list[str] = []
    for start, end in _pack(text, atoms, fits):
        piece = text[start:end].strip()
        if not piece:
            continue
        if fits(piece):
            pieces.append(piece)
        else:
            pieces.extend(_split(piece, level + 1, fits))
    return pieces


def _pack(text: str, atoms: list[tuple[int, int]], fits: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Group consecutive atoms greedily into the longest runs that fit.

    A binary search over the run length keeps the number of ``count_tokens``
    calls logarithmic; an atom that does not fit alone is returned alone.
    """
    runs = []
    i = 0
    while i < len(atoms):
        lo, hi = i, len(atoms) - 1  # the run atoms[i..lo] fits (or lo == i)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(text[atoms[i][0] : atoms[mid][1]].strip()):
                lo = mid
            else:
                hi = mid - 1
        runs.append((atoms[i][0], atoms[lo][1]))
        i = lo + 1
    return runs


def _split_chars(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut ``text`` into the longest runs of characters that fit (never before a combining mark)."""
    pieces = []
    start = 0
    while start < len(text):
        lo, hi = start + 1, len(text)  # text[start:lo] is the longest run known to fit (or one char)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(text[start:mid].strip()):
                lo = mid
            else:
                hi = mid - 1
        end = lo
        # Keep a base character with its combining marks when the run allows it.
        while start + 1 < end < len(text) and unicodedata.combining(text[end]):
            end -= 1
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    return pieces
