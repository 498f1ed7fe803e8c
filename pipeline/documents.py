"""A document of any format through translation: units cut into sentences, markup and terms carried across.

:func:`prepare` cuts each unit of a :class:`~pipeline.formats.base.Document` into
sentences (the segmenter of :mod:`pipeline.segment`; two sentences that a tag
spans stay one piece). The pieces' plain texts are what gets translated, cached,
journaled and scored, exactly like lines of a text file. :meth:`PreparedDocument.render`
then joins each unit's translated pieces, puts its inline tags back in place
(:func:`pipeline.inline.project`, by the model's word alignment), enforces
protected text and glossary terms, and writes the file in its own format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.formats import Document, FormatOptions, Tag, Unit, render_document
from pipeline.inline import AUTO_ID, Constraint, auto_keep, project
from pipeline.languages import is_unspaced
from pipeline.wordalign import Aligner, DiagonalAligner

__all__ = ["InlineStats", "Piece", "PreparedDocument", "prepare"]


@dataclass(frozen=True)
class Piece:
    """One sentence of a unit: what is translated.

    Attributes:
        unit: the unit's index in the document.
        start, end: the sentence's span in the unit's text.
        text: ``unit.text[start:end]``.
        tags: the unit's tags inside the sentence (offsets relative to it), plus keep
            tags for the URLs, numbers and placeholders found in it.
    """

    unit: int
    start: int
    end: int
    text: str
    tags: tuple[Tag, ...] = ()


@dataclass
class InlineStats:
    """What happened to the markup and the terms of a document, for the report."""

    tags: int = 0  # pair and empty tags carried across
    protected: int = 0  # keep spans (code, placeholders, URLs, numbers)
    protected_fixed: int = 0  # ... that the model had changed, put back
    protected_failed: int = 0  # ... that could not be put back
    terms_matched: int = 0  # glossary terms found in the source
    terms_fixed: int = 0  # ... whose target term the model had not used, put in
    terms_violated: int = 0  # ... still missing from the output
    aligner: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PreparedDocument:
    """A document cut into the pieces to translate.

    Attributes:
        document: the document as its format read it.
        pieces: the sentences to translate, in document order.
        options: the format options (target language, field...) for writing.
        glossary: the terms to enforce (a :class:`pipeline.glossary.Glossary`), or None.
    """

    document: Document
    pieces: list[Piece]
    options: FormatOptions
    glossary: Any = None
    stats: InlineStats = field(default_factory=InlineStats)

    @property
    def texts(self) -> list[str]:
        """The pieces' plain texts: what the translator gets."""
        return [piece.text for piece in self.pieces]

    @property
    def paragraph_ids(self) -> list[int]:
        """Each piece's unit: the paragraphs that references are aligned by."""
        return [piece.unit for piece in self.pieces]

    def rebuild(self, translations: Sequence[str], *, tgt_lang: str | None = None,
                aligner: Aligner | None = None) -> bytes:
        """The translated file (see :meth:`render`); the name matches :meth:`pipeline.segment.Document.rebuild`."""
        return self.render(translations, tgt_lang=tgt_lang, aligner=aligner)

    def render(self, translations: Sequence[str], *, tgt_lang: str | None = None,
               aligner: Aligner | None = None) -> bytes:
        """The translated file's bytes, with every unit's tags, protected text and terms in place.

        Args:
            translations: one per piece, in order.
            tgt_lang: the target language (spacing between sentences; the format's target).
            aligner: what aligns sentences with their translations (default: :class:`DiagonalAligner`).

        Raises:
            InputError: the number of translations differs from the number of pieces.
        """
        units, self.stats = self.translated_units(translations, tgt_lang=tgt_lang, aligner=aligner)
        options = self.options if tgt_lang is None else _with_target(self.options, tgt_lang)
        return render_document(self.document, units, options)

    def translated_units(self, translations: Sequence[str], *, tgt_lang: str | None = None,
                         aligner: Aligner | None = None) -> tuple[list[Unit], InlineStats]:
        """Each unit's translation with its tags, and what happened to the markup and terms."""
        from pipeline.errors import InputError

        if len(translations) != len(self.pieces):
            raise InputError(f"{self.document.name}: {len(translations)} translations for {len(self.pieces)} pieces")
        aligner = aligner or DiagonalAligner()
        stats = InlineStats(aligner=aligner.name)
        constraints = [self._constraints(piece) for piece in self.pieces]
        todo = [n for n, (piece, translation) in enumerate(zip(self.pieces, translations, strict=True))
                if translation != piece.text and (piece.tags or constraints[n])]
        alignments = dict(zip(todo, aligner.align([self.pieces[n].text for n in todo],
                                                  [translations[n] for n in todo]), strict=True))
        done: list[tuple[str, list[Tag]]] = []
        for n, (piece, translation) in enumerate(zip(self.pieces, translations, strict=True)):
            stats.tags += sum(1 for tag in piece.tags if tag.kind != "keep")
            stats.protected += sum(1 for tag in piece.tags if tag.kind == "keep")
            terms = [c for c in constraints[n] if c.term is not None]
            stats.terms_matched += len(terms)
            if n not in alignments:
                done.append((translation, list(piece.tags)))
                continue
            result = project(piece.text, piece.tags, translation, alignments[n], constraints[n])
            for kind, group in (("fixed", result.fixed), ("failed", result.failed)):
                setattr(stats, f"protected_{kind}", getattr(stats, f"protected_{kind}")
                        + sum(1 for c in group if c.term is None))
            stats.terms_fixed += sum(1 for c in result.fixed if c.term is not None)
            stats.terms_violated += sum(1 for c in result.failed if c.term is not None)
            done.append((result.text, result.tags))
        return self._assemble(done, tgt_lang), stats

    def _constraints(self, piece: Piece) -> list[Constraint]:
        keep = [Constraint(tag.start, tag.end, piece.text[tag.start : tag.end], tag=tag)
                for tag in piece.tags if tag.kind == "keep"]
        terms = self.glossary.constraints(piece.text) if self.glossary is not None else []
        inside_keep = [(c.start, c.end) for c in keep]
        terms = [t for t in terms if not any(a <= t.start < b for a, b in inside_keep)]
        return keep + terms

    def _assemble(self, done: list[tuple[str, list[Tag]]], tgt_lang: str | None) -> list[Unit]:
        unspaced = None if tgt_lang is None else is_unspaced(tgt_lang)
        by_unit: dict[int, list[int]] = {}
        for n, piece in enumerate(self.pieces):
            by_unit.setdefault(piece.unit, []).append(n)
        units = []
        for u, unit in enumerate(self.document.units):
            numbers = by_unit.get(u)
            if not numbers:
                units.append(unit)
                continue
            text, tags, position = "", [], 0
            moved: list[tuple[int, int]] = []  # (source end, new end) of each piece: where gaps start
            for n in numbers:
                piece = self.pieces[n]
                gap = unit.text[position : piece.start]
                if unspaced is not None and position > 0:
                    gap = "" if unspaced and not gap.strip() else (" " if not unspaced and gap == "" else gap)
                text += gap
                translation, piece_tags = done[n]
                tags += [Tag(t.start + len(text), t.end + len(text), t.id, t.kind) for t in piece_tags
                         if t.id < AUTO_ID]
                text += translation
                position = piece.end
                moved.append((piece.end, len(text)))
            text += unit.text[position:]
            pieces = [self.pieces[n] for n in numbers]
            for tag in unit.tags:  # tags outside every piece (in the space between sentences) keep their place
                if not any(_inside(tag, p.start, p.end) for p in pieces):
                    tags.append(Tag(_in_gap(tag.start, moved, text), _in_gap(tag.end, moved, text), tag.id, tag.kind))
            units.append(Unit(text, tuple(sorted(tags, key=lambda t: (t.start, -t.end))), unit.where))
        return units


def _inside(tag: Tag, start: int, end: int) -> bool:
    """Whether a tag belongs to the piece ``[start, end)`` (an empty tag at its very end stands after it)."""
    return start <= tag.start and tag.end <= end and not (tag.kind == "empty" and tag.start == end)


def _in_gap(offset: int, moved: list[tuple[int, int]], text: str) -> int:
    """Where a source offset outside every piece lands in the assembled translation."""
    before = [(old, new) for old, new in moved if old <= offset]
    if not before:
        return offset  # the unit's leading text is copied as it is
    old, new = before[-1]
    return min(new + offset - old, len(text))


def _with_target(options: FormatOptions, tgt_lang: str) -> FormatOptions:
    from dataclasses import replace

    return replace(options, tgt_lang=tgt_lang)


def prepare(document: Document, src_lang: str, *, options: FormatOptions | None = None, split: bool = True,
            segmenter: str = "auto", glossary: Any = None) -> PreparedDocument:
    """Cut a document's units into sentences to translate.

    Args:
        document: what a format read.
        src_lang: the source language, for the segmenter.
        options: the format options, kept for writing.
        split: cut units into sentences (False: one piece per unit).
        segmenter: the segmentation backend (:data:`pipeline.segment.BACKENDS`, or ``auto``).
        glossary: terms to enforce.
    """
    from pipeline.segment import Segmenter

    cutter = Segmenter(src_lang, backend=segmenter) if split else None
    pieces: list[Piece] = []
    for u, unit in enumerate(document.units):
        if not unit.text.strip():
            continue
        spans = [(s.start, s.end) for s in cutter.segment(unit.text).segments] if cutter else [_stripped(unit.text)]
        for start, end in _merge_across_tags(spans, unit.tags):
            inside = tuple(Tag(t.start - start, t.end - start, t.id, t.kind) for t in unit.tags
                           if _inside(t, start, end))
            text = unit.text[start:end]
            pieces.append(Piece(u, start, end, text, inside + auto_keep(text, inside)))
    return PreparedDocument(document, pieces, options or FormatOptions(src_lang=src_lang), glossary)


def _stripped(text: str) -> tuple[int, int]:
    start = len(text) - len(text.lstrip())
    return start, len(text.rstrip())


def _merge_across_tags(spans: list[tuple[int, int]], tags: Sequence[Tag]) -> list[tuple[int, int]]:
    """Join consecutive sentences that a pair or keep tag spans, so every tag lies inside one piece."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and any(t.kind != "empty" and t.start < merged[-1][1] and t.end > start for t in tags):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
