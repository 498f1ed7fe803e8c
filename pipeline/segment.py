"""Split documents into paragraphs and sentences, remembering where each came from.

A document is cut into paragraphs at line breaks (every non-empty line is a
paragraph, headlines included) and each paragraph into sentences by a
maintained segmentation library (a *backend*), by default the one measured
best for the language (:data:`LANGUAGE_BACKENDS`). Every :class:`Segment` keeps
its character span in the document, so :meth:`Document.rebuild` can put the
translations back in place with the original layout: blank lines,
indentation and the whitespace between sentences.

Splitting a segment too long for a model is :func:`pipeline.batching.split_long`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.errors import ConfigError, InputError
from pipeline.languages import Language, is_unspaced, parse_language

__all__ = [
    "AUTO_BACKEND",
    "BACKENDS",
    "BACKEND_CHOICES",
    "DEFAULT_BACKEND",
    "FALLBACK_BACKEND",
    "LANGUAGE_BACKENDS",
    "Document",
    "Segment",
    "Segmenter",
    "backend_for",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# Segments and documents
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One sentence (or headline) of a document.

    Attributes:
        text: the sentence, without surrounding whitespace; always ``document[start:end]``.
        paragraph: the paragraph number, counting non-empty lines from 0.
        start: the offset of the first character in the document.
        end: the offset just past the last character.
        sentence: the sentence number inside its paragraph, from 0.
    """

    text: str
    paragraph: int
    start: int
    end: int
    sentence: int = 0


@dataclass(frozen=True)
class Document:
    """A document and its segments, in order, with their positions.

    Attributes:
        text: the original document.
        segments: the segments in document order.
    """

    text: str
    segments: list[Segment]

    @property
    def texts(self) -> list[str]:
        """The segment texts, one per segment."""
        return [segment.text for segment in self.segments]

    @property
    def paragraph_ids(self) -> list[int]:
        """The paragraph number of each segment."""
        return [segment.paragraph for segment in self.segments]

    @property
    def paragraph_count(self) -> int:
        """The number of paragraphs (non-empty lines)."""
        return self.segments[-1].paragraph + 1 if self.segments else 0

    def rebuild(self, translations: Sequence[str], *, tgt_lang: str | None = None) -> str:
        """Put translations in place of the segments, keeping the document's layout.

        Everything outside the segments (blank lines, indentation, the
        whitespace between sentences of a paragraph) is kept as it was, so
        ``rebuild(texts)`` gives back the document exactly. Line breaks inside
        a translation become spaces, so paragraphs stay paragraphs.

        Args:
            translations: one string per segment, in order.
            tgt_lang: the translations' language. When given, the space between
                two sentences of a paragraph follows the target's writing system:
                dropped for Chinese/Japanese/Thai, added when translating out of them.
                Without it the original whitespace is kept as it is.

        Returns:
            The translated document.

        Raises:
            InputError: the number of translations differs from the number of segments.
            LanguageError: ``tgt_lang`` is not a known language.
        """
        if len(translations) != len(self.segments):
            raise InputError(
                f"cannot rebuild the document: {len(translations)} translations for {len(self.segments)} segments",
                hint="pass exactly one translation per segment, in document order",
            )
        unspaced = None if tgt_lang is None else is_unspaced(tgt_lang)
        parts: list[str] = []
        position = 0
        previous: Segment | None = None
        for segment, translation in zip(self.segments, translations, strict=True):
            gap = self.text[position : segment.start]
            if unspaced is not None and previous is not None and previous.paragraph == segment.paragraph:
                if unspaced and not gap.strip():
                    gap = ""
                elif not unspaced and gap == "":
                    gap = " "
            parts.append(gap)
            parts.append(_one_line(translation))
            position = segment.end
            previous = segment
        parts.append(self.text[position:])
        return "".join(parts)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text) if "\n" in text else text


# --------------------------------------------------------------------------
# Backends: one small class per segmentation library
# --------------------------------------------------------------------------

BACKENDS: dict[str, type[_Backend]] = {}
"""Segmentation libraries by name."""

AUTO_BACKEND = "auto"
"""The backend name that means: the library measured best for the document's language."""

DEFAULT_BACKEND = AUTO_BACKEND
"""What :class:`Segmenter` uses unless told otherwise."""

# Chosen from the measurements in docs/segmentation.md (benchmarks/segmenters.py):
# pysbd is the only library that reaches 47/48 on the English Golden Rules
# (sentencex: 43/48) with the article still 19/19; sentencex is as good or better
# on every other language measured (pt, de, fr, es, zh), covers ~300 languages
# and is 20-60 times faster. Keys are primary language subtags.
LANGUAGE_BACKENDS: dict[str, str] = {"en": "pysbd"}
"""The measured best backend per language, for languages where it is not :data:`FALLBACK_BACKEND`."""

FALLBACK_BACKEND = "sentencex"
"""The backend for every language not in :data:`LANGUAGE_BACKENDS`."""


def backend_for(lang: str | Language) -> str:
    """The backend that ``auto`` picks for a language: its entry in :data:`LANGUAGE_BACKENDS`, else sentencex.

    Args:
        lang: a language code (``en-GB``, ``pt``) or a parsed :class:`Language`.

    Raises:
        LanguageError: the code is not a known language.
    """
    language = lang if isinstance(lang, Language) else parse_language(lang)
    return LANGUAGE_BACKENDS.get(language.language, FALLBACK_BACKEND)


def _register(name: str) -> Callable[[type[_Backend]], type[_Backend]]:
    def decorate(cls: type[_Backend]) -> type[_Backend]:
        cls.name = name
        BACKENDS[name] = cls
        return cls

    return decorate


class _Backend:
    """Split one paragraph (a line without line breaks) into sentences."""

    name: ClassVar[str]

    def __init__(self, language: Language) -> None:
        self.language = language

    def sentences(self, paragraph: str) -> list[str]:
        """Return the sentences of ``paragraph``, in order, with or without their whitespace."""
        raise NotImplementedError


@_register("sentencex")
class _Sentencex(_Backend):
    """sentencex: rules for about 300 languages, with fallbacks between related languages."""

    def __init__(self, language: Language) -> None:
        super().__init__(language)
        self._sentencex = _import("sentencex", self.name)

    def sentences(self, paragraph: str) -> list[str]:
        return list(self._sentencex.segment(self.language.language, paragraph))


@_register("pysbd")
class _Pysbd(_Backend):
    """pySBD: the Golden Rules, ported from Pragmatic Segmenter; 23 languages.

    Much slower than sentencex: it is a chain of Python regular expressions.
    """

    def __init__(self, language: Language) -> None:
        super().__init__(language)
        pysbd = _import("pysbd", self.name)
        from pysbd.languages import LANGUAGE_CODES

        if language.language not in LANGUAGE_CODES:
            raise ConfigError(
                f"segmenter backend 'pysbd' does not support language {language.tag!r} "
                f"(supported: {', '.join(sorted(LANGUAGE_CODES))})",
                hint="use backend 'sentencex', which covers about 300 languages",
            )
        self._pysbd = pysbd

    def sentences(self, paragraph: str) -> list[str]:
        # clean=False: pysbd must not rewrite the text, or positions are lost.
        # A pysbd.Segmenter keeps the text it is working on, so one per call
        # (it is cheap to make) keeps a shared Segmenter safe across threads.
        segmenter = self._pysbd.Segmenter(language=self.language.language, clean=False, char_span=False)
        return list(segmenter.segment(paragraph))


BACKEND_CHOICES: tuple[str, ...] = (AUTO_BACKEND, *sorted(BACKENDS))
"""Every name :class:`Segmenter` accepts as ``backend``."""


def _import(module: str, backend: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"segmenter backend {backend!r} needs the package {module!r}, which is not installed",
            hint=f"pip install {module}",
        ) from err


# --------------------------------------------------------------------------
# The segmenter
# --------------------------------------------------------------------------


class Segmenter:
    """Split documents of one language into paragraphs and sentences.

    Args:
        lang: the document's language (``en``, ``pt-BR``, ``zho_Hans``...).
        backend: the segmentation library, a key of :data:`BACKENDS`, or ``auto``
            (the default) for the one measured best for ``lang`` (:func:`backend_for`).

    Attributes:
        backend: the library in use (never ``auto``).

    Raises:
        ConfigError: the backend is unknown, not installed, or does not support the language.
        LanguageError: the language code is unknown.
    """

    def __init__(self, lang: str, backend: str = DEFAULT_BACKEND) -> None:
        self.language = parse_language(lang)
        if backend == AUTO_BACKEND:
            backend = backend_for(self.language)
        elif backend not in BACKENDS:
            known = ", ".join((AUTO_BACKEND, *sorted(BACKENDS)))
            raise ConfigError(f"unknown segmenter backend {backend!r} (known: {known})")
        self.backend = backend
        self._backend = BACKENDS[backend](self.language)

    def segment(self, document: str) -> Document:
        """Segment a document.

        Every non-empty line is a paragraph; each paragraph is split into
        sentences by the backend. Every non-space character of the document
        is in exactly one segment, in order.

        Args:
            document: the whole text.

        Returns:
            The :class:`Document` with its segments and their positions.
        """
        segments: list[Segment] = []
        paragraph = 0
        for line_start, line_end in _lines(document):
            for number, (start, end) in enumerate(self._sentence_spans(document, line_start, line_end)):
                segments.append(Segment(document[start:end], paragraph, start, end, number))
            paragraph += 1
        return Document(document, segments)

    def _sentence_spans(self, document: str, start: int, end: int) -> list[tuple[int, int]]:
        """Find the sentences of ``document[start:end]`` (a stripped line) as document spans."""
        pieces = self._backend.sentences(document[start:end])
        return _align(document, start, end, pieces, self.backend)

    def __repr__(self) -> str:
        return f"Segmenter({self.language.tag!r}, backend={self.backend!r})"


def _lines(document: str) -> list[tuple[int, int]]:
    """Spans of the non-empty lines of ``document``, without surrounding whitespace."""
    spans = []
    for match in re.finditer(r"[^\n]+", document):
        line = match.group()
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            spans.append((match.start() + lead, match.start() + lead + len(stripped)))
    return spans


def _align(document: str, start: int, end: int, pieces: Sequence[str], backend: str) -> list[tuple[int, int]]:
    """Map a backend's sentences back onto ``document[start:end]``.

    Backends disagree on what they do with whitespace, so pieces are matched
    by their non-space characters, in order. Should a backend ever change a
    character, the rest of the paragraph becomes one segment: nothing is lost.
    """
    spans = []
    position = start
    for piece in pieces:
        core = "".join(piece.split())
        if not core:
            continue
        while position < end and document[position].isspace():
            position += 1
        first = position
        matched = 0
        while matched < len(core) and position < end:
            char = document[position]
            if char.isspace():
                position += 1
            elif char == core[matched]:
                position += 1
                matched += 1
            else:
                break
        if matched < len(core):
            logger.warning(
                "segmenter backend %r changed the text of a paragraph at offset %d; "
                "keeping the rest of it as one segment",
                backend,
                first,
            )
            position = first
            break
        spans.append((first, position))
    while position < end and document[position].isspace():
        position += 1
    if position < end:
        spans.append((position, end))
    return spans
