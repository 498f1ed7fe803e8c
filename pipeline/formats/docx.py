"""Word documents (``.docx``), read and written with python-docx: one unit per paragraph.

Units are the body's paragraphs in document order (table cells and text boxes included), then those of
each header and footer. Footnotes, endnotes and comments are not translated.

A paragraph's text is the text of its runs. Its formatting becomes tags:

- ``pair``, one per maximal span of runs with the same run properties (``w:rPr``: bold, italic,
  underline, font, colour...) unless they are the paragraph's most common ones, its plain text;
- ``pair``, one per hyperlink, around the runs inside it;
- ``empty``, one per thing that is not text: a tab, a line break, a picture, a field character, a
  bookmark, a tracked change (whose text is then not translated).

Writing rebuilds only the paragraphs whose translation differs from the source: their runs are made
again from the translated unit, each stretch of text with the run properties of the innermost run tag
covering it (or the plain ones), inside its hyperlink if a hyperlink tag covers it, and the non-text
things put back where their ``empty`` tags are. A tag the translation dropped loses its formatting
(its text is plain); a dropped ``empty`` tag loses its picture, tab or break. The rebuilt paragraph
loses Word's bookkeeping that a translation makes stale: revision ids on runs, proofing marks, rendered
page breaks. Everything else in the file is what python-docx reads and saves again, so the file is not
byte for byte the same even for an identity translation (a zip archive is rewritten), but every
paragraph is.
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import InputError
from pipeline.formats.base import Document, FormatOptions, Tag, Unit

__all__ = ["DocxFormat"]

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Word's bookkeeping that a translation makes stale: dropped from rebuilt paragraphs, and never tags.
_STALE = {f"{_W}proofErr", f"{_W}lastRenderedPageBreak", f"{_W}softHyphen"}


@dataclass
class _Text:
    text: str
    rpr: Any  # the run's w:rPr element, or None
    link: Any  # the w:hyperlink element around the run, or None


@dataclass
class _Item:
    element: Any  # a paragraph child (bookmark, field, tracked change...) or a run child (tab, break, picture)
    link: Any
    rpr: Any  # for a run child: its run's w:rPr (None: not in a run, or a run with no properties)
    in_run: bool


@dataclass
class _Entry:
    """A unit's paragraph and what its tag ids mean."""

    paragraph: int  # its index in the traversal of :func:`_paragraphs`
    plain: str  # the XML of the plain text's w:rPr ("" for none)
    runs: dict[int, str] = field(default_factory=dict)  # run tag id -> w:rPr XML
    links: dict[int, int] = field(default_factory=dict)  # hyperlink tag id -> index among the paragraph's links
    items: dict[int, int] = field(default_factory=dict)  # empty tag id -> index among the paragraph's items


@dataclass(frozen=True)
class _Data:
    data: bytes
    entries: list[_Entry]


class DocxFormat:
    """Word documents: a unit per paragraph, run formatting and hyperlinks as tags."""

    name = "docx"
    extensions = (".docx",)
    binary = True

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        document = _open(data, name)
        units: list[Unit] = []
        entries: list[_Entry] = []
        for index, (where, paragraph) in enumerate(_paragraphs(document)):
            unit, entry = _read_paragraph(paragraph, index, where)
            if unit.text.strip():
                units.append(unit)
                entries.append(entry)
        return Document(self.name, name, units, _Data(data, entries))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> bytes:
        data: _Data = document.data
        opened = _open(data.data, document.name)
        paragraphs = [paragraph for _, paragraph in _paragraphs(opened)]  # all found before any is changed
        for source, unit, entry in zip(document.units, translations, data.entries, strict=True):
            if (unit.text, unit.tags) != (source.text, source.tags):
                _rebuild(paragraphs[entry.paragraph], unit, entry)
        out = io.BytesIO()
        opened.save(out)
        return out.getvalue()


def _open(data: bytes, name: str) -> Any:
    """The python-docx document in ``data``.

    Raises:
        InputError: not a zip archive, not a Word document, or one python-docx cannot read.
    """
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as err:
        raise InputError(f"{name}: not a DOCX file (not a zip archive)",
                         hint="a .docx is a zip archive written by Word or LibreOffice; is it an old .doc?") from err
    if "word/document.xml" not in names:
        raise InputError(f"{name}: not a DOCX file (the zip archive has no word/document.xml)")
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as err:  # python-docx raises KeyError, ValueError, lxml errors... on a broken package
        raise InputError(f"{name}: not a DOCX file python-docx can read: {type(err).__name__}: {err}") from err


def _paragraphs(document: Any) -> list[tuple[str, Any]]:
    """Every paragraph to translate, with where it is: the body's, then each header's and footer's."""
    out = [(f"paragraph {n}", p) for n, p in enumerate(_iter_paragraphs(document.element.body), start=1)]
    seen: set[str] = set()
    counts: Counter[str] = Counter()
    for section in document.element.body.iter(f"{_W}sectPr"):
        for ref in section:
            kind = {f"{_W}headerReference": "header", f"{_W}footerReference": "footer"}.get(ref.tag)
            part = document.part.related_parts.get(ref.get(_R_ID)) if kind else None
            if part is None or str(part.partname) in seen:
                continue
            seen.add(str(part.partname))
            counts[kind] += 1
            out += [(f"{kind} {counts[kind]}, paragraph {n}", p)
                    for n, p in enumerate(_iter_paragraphs(part.element), start=1)]
    return out


def _iter_paragraphs(root: Any) -> list[Any]:
    """The w:p elements under ``root``, in order, except the copies Word keeps for old readers."""
    return [p for p in root.iter(f"{_W}p") if not any(a.tag == _MC_FALLBACK for a in p.iterancestors())]


def _walk(paragraph: Any) -> list[_Text | _Item]:
    """A paragraph's content in order: text with its run properties and hyperlink, and everything else."""
    pieces: list[_Text | _Item] = []

    def run(r: Any, link: Any) -> None:
        rpr = r.find(f"{_W}rPr")
        for child in r:
            if child.tag == f"{_W}rPr" or child.tag in _STALE:
                continue
            if child.tag == f"{_W}t":
                pieces.append(_Text(child.text or "", rpr, link))
            else:
                pieces.append(_Item(child, link, rpr, True))

    for child in paragraph:
        if child.tag == f"{_W}pPr" or child.tag in _STALE:
            continue
        if child.tag == f"{_W}r":
            run(child, None)
        elif child.tag == f"{_W}hyperlink":
            for sub in child:
                if sub.tag == f"{_W}r":
                    run(sub, child)
                elif sub.tag not in _STALE:
                    pieces.append(_Item(sub, child, None, False))
        else:
            pieces.append(_Item(child, None, None, False))
    return pieces


def _key(rpr: Any) -> str:
    from lxml import etree

    if rpr is None:
        return ""
    alone = copy.deepcopy(rpr)
    etree.cleanup_namespaces(alone)  # not the dozens the document declares
    return etree.tostring(alone, encoding="unicode")


def _read_paragraph(paragraph: Any, index: int, where: str) -> tuple[Unit, _Entry]:
    pieces = _walk(paragraph)
    weight: Counter[str] = Counter()
    for piece in pieces:
        if isinstance(piece, _Text):
            weight[_key(piece.rpr)] += len(piece.text)
    plain = weight.most_common(1)[0][0] if weight else ""
    entry = _Entry(index, plain)
    tags: list[Tag] = []
    links: list[Any] = []
    text: list[str] = []
    offset = 0
    span: tuple[str, Any, int] | None = None  # (rPr key, hyperlink, start) of the current run span
    link_start: tuple[Any, int] | None = None

    def close_span() -> None:
        nonlocal span
        if span is not None and span[0] != plain and offset > span[2]:
            entry.runs[len(tags)] = span[0]
            tags.append(Tag(span[2], offset, len(tags)))
        span = None

    def close_link() -> None:
        nonlocal link_start
        if link_start is not None:
            entry.links[len(tags)] = links.index(link_start[0])
            tags.append(Tag(link_start[1], offset, len(tags)))
        link_start = None

    items = 0
    for piece in pieces:
        if piece.link is not None and piece.link not in links:
            links.append(piece.link)
        if link_start is None or piece.link is not link_start[0]:
            close_span()
            close_link()
            if piece.link is not None:
                link_start = (piece.link, offset)
        if isinstance(piece, _Text):
            key = _key(piece.rpr)
            if span is None or span[0] != key:
                close_span()
                span = (key, piece.link, offset)
            text.append(piece.text)
            offset += len(piece.text)
        else:
            entry.items[len(tags)] = items
            tags.append(Tag(offset, offset, len(tags), "empty"))
            items += 1
    close_span()
    close_link()
    # Outer first: a hyperlink before the run span inside it with the same extent.
    ordered = tuple(sorted(tags, key=lambda t: (t.start, -t.end, t.kind == "empty", t.id not in entry.links, t.id)))
    return Unit("".join(text), ordered, where), entry


def _rebuild(paragraph: Any, unit: Unit, entry: _Entry) -> None:
    """Replace the paragraph's content with the translated unit's text, formatting and non-text things."""
    from docx.oxml import parse_xml

    pieces = _walk(paragraph)
    items = [p for p in pieces if isinstance(p, _Item)]
    links: list[Any] = []
    for piece in pieces:
        if piece.link is not None and piece.link not in links:
            links.append(piece.link)
    text = unit.text
    size = len(text)
    tags = [Tag(min(max(t.start, 0), size), min(max(t.end, t.start, 0), size), t.id, t.kind) for t in unit.tags
            if t.id in entry.runs or t.id in entry.links or t.id in entry.items]
    pairs = [t for t in tags if t.id not in entry.items and t.end > t.start]
    empties = sorted((t for t in tags if t.id in entry.items), key=lambda t: (t.start, t.id))

    def innermost(kinds: dict[int, Any], start: int, end: int) -> Tag | None:
        covering = [t for t in pairs if t.id in kinds and t.start <= start and end <= t.end]
        return min(covering, key=lambda t: (t.end - t.start, -t.start), default=None)

    # What to write, in order: (hyperlink tag id or None, rPr XML, text) or (hyperlink tag id or None, _Item).
    out: list[tuple[int | None, Any, Any]] = []
    bounds = sorted({0, size, *(t.start for t in tags), *(t.end for t in tags)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        for tag in empties:
            if tag.start == start:
                out.append((_item_link(tag.start, items[entry.items[tag.id]], entry, pairs, links), None,
                            items[entry.items[tag.id]]))
        run = innermost(entry.runs, start, end)
        link = innermost(entry.links, start, end)
        out.append((None if link is None else link.id, entry.runs[run.id] if run else entry.plain, text[start:end]))
    for tag in empties:
        if tag.start == size:
            out.append((_item_link(size, items[entry.items[tag.id]], entry, pairs, links), None,
                        items[entry.items[tag.id]]))

    for child in list(paragraph):
        if child.tag != f"{_W}pPr":
            paragraph.remove(child)
    container, current = paragraph, None
    last_run: Any = None
    last_key: tuple[int | None, str] | None = None
    for link_id, rpr, content in out:
        if link_id != current:
            current = link_id
            if link_id is None:
                container = paragraph
            else:
                original = links[entry.links[link_id]]
                container = paragraph.makeelement(original.tag, dict(original.attrib))
                paragraph.append(container)
            last_run, last_key = None, None
        if isinstance(content, _Item):
            if content.in_run:
                run = paragraph.makeelement(f"{_W}r", {})
                if content.rpr is not None:
                    run.append(copy.deepcopy(content.rpr))
                run.append(content.element)
                container.append(run)
            else:
                container.append(content.element)
            last_run, last_key = None, None
            continue
        if not content:
            continue
        if last_run is None or last_key != (link_id, rpr):
            last_run = paragraph.makeelement(f"{_W}r", {})
            if rpr:
                last_run.append(parse_xml(rpr))
            container.append(last_run)
            last_key = (link_id, rpr)
        _append_text(last_run, content)


def _item_link(offset: int, item: _Item, entry: _Entry, pairs: list[Tag], links: list[Any]) -> int | None:
    """The hyperlink tag an item goes into: the one it was in, if that still covers its place."""
    if item.link is None:
        return None
    for tag in pairs:
        if tag.id in entry.links and links[entry.links[tag.id]] is item.link and tag.start < offset < tag.end:
            return tag.id
    return None


def _append_text(run: Any, text: str) -> None:
    """Text into a run: w:t pieces, with tabs as w:tab and line breaks as w:br."""
    piece = ""
    for char in text + "\0":
        if char in "\t\n\0":
            if piece:
                t = run.makeelement(f"{_W}t", {})
                t.text = piece
                if piece != piece.strip():
                    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                run.append(t)
                piece = ""
            if char != "\0":
                run.append(run.makeelement(f"{_W}tab" if char == "\t" else f"{_W}br", {}))
        else:
            piece += char
