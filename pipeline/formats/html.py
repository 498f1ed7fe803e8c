"""HTML and XHTML, tokenised with the standard library's HTML parser (the one behind BeautifulSoup's
``html.parser`` tree builder), which reports where each tag and run of text starts in the source.

Units: the inline content of each block element (``p``, ``h1``-``h6``, ``li``, ``td``, ``th``,
``dt``, ``dd``, ``caption``, ``figcaption``, ``title``, ``label``, ``button``, ``option``, text
directly in a ``div``, ``section``, ``blockquote``...). A block's content is cut into runs at block-level tags, so
``<li>Item<ul>...</ul></li>`` gives the unit "Item" and one per nested item.

Inline elements (``b``, ``strong``, ``i``, ``em``, ``a``, ``span``, ``u``, ``sup``, ``sub``,
``small``, ``mark``, ``abbr``, ``q``...) become pair tags whose markup is
the opening and closing tag exactly as written; ``br``, ``img``, ``wbr``, ``input`` and inline
comments are empty tags; ``code``, ``kbd``, ``samp``, ``var`` and anything marked
``translate="no"`` or ``class="notranslate"`` are keep tags. Text is plain: entities decoded,
whitespace runs as one space.

The attributes ``alt``, ``title``, ``placeholder`` and ``aria-label``, and the ``content`` of
``<meta name="description">`` (and its Open Graph and Twitter kin), are units of their own.
``href``, ``src``, other attributes, ``script``, ``style``, ``pre``, ``textarea``, ``svg``,
``math``, comments and ``translate="no"`` subtrees are never touched.

Writing splices each unit into its original range of the source, so the identity round trip is
byte for byte; a changed block is rendered with its original tag strings, its text escapes ``&``,
``<`` and ``>`` (attribute values also ``"`` and ``'``). ``<html lang>`` (and ``xml:lang``) is set
to the target language. A tag that a translation dropped loses its markup; its text stays.

``.xhtml`` files must be well-formed XML (checked with lxml); HTML is read as browsers read it,
except that a comment left open is an error, since everything after it would be lost.
"""

from __future__ import annotations

import html
import html.parser
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pipeline.errors import InputError
from pipeline.formats.base import (
    Document,
    FormatOptions,
    Tag,
    TagKind,
    Unit,
    decode_utf8,
    has_text,
    line_col,
    render_tags,
    same_unit,
)

__all__ = ["HtmlFormat"]

_INLINE = frozenset({
    "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "br", "cite", "code", "data", "del", "dfn", "em", "font",
    "i", "img", "input", "ins", "kbd", "mark", "meter", "output", "progress", "q", "rp", "rt", "ruby", "s", "samp",
    "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr",
})
"""Phrasing elements: tags inside a unit. Every other element (and any custom element) ends a run of text;
so do form controls (``label``, ``button``, ``option``): each is a unit of its own."""
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr"})
_KEEP = frozenset({"code", "kbd", "samp", "var"})
"""Inline elements whose text comes through translation unchanged."""
_OPAQUE = frozenset({"script", "style", "pre", "textarea", "svg", "math", "template", "noscript", "iframe",
                     "object"})
"""Elements whose content is never translated."""
_ATTRIBUTES = frozenset({"alt", "title", "placeholder", "aria-label"})
_META_NAMES = frozenset({"description", "og:title", "og:description", "twitter:title", "twitter:description"})
_SPACE = re.compile(r"[ \t\n\r\f]+")
_ASCII_SPACE = " \t\n\r\f"


@dataclass(frozen=True)
class _Block:
    """Where a unit stands in the source and how to render its translation.

    Attributes:
        start, end: the unit's character range in the source (for an attribute: its value, inside any quotes).
        kind: ``text`` (a run of a block's content) or ``attribute`` (a value; ``quoted`` says whether the
            source quoted it).
        markup: tag id -> the source ranges of its opening and closing strings.
        kinds: tag id -> the tag's kind in the source.
    """

    start: int
    end: int
    kind: Literal["text", "attribute"]
    quoted: bool = True
    markup: dict[int, tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)
    kinds: dict[int, TagKind] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    text: str
    blocks: list[_Block]
    langs: list[tuple[int, int, bool]]  # the value ranges of <html lang> and xml:lang, and whether quoted


@dataclass(frozen=True)
class _Event:
    kind: Literal["start", "end", "startend", "data", "ref", "comment", "other"]
    start: int
    end: int
    tag: str = ""
    attrs: tuple[tuple[str, str | None], ...] = ()


class HtmlFormat:
    """HTML and XHTML: one unit per run of a block's text and per translatable attribute; byte-for-byte round trip."""

    name = "html"
    extensions = (".html", ".htm", ".xhtml")
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        if name.lower().endswith(".xhtml"):
            _check_xml(data, name)
        events = _tokenise(text, name)
        reader = _Reader(text, events)
        reader.run()
        order = sorted(range(len(reader.units)), key=lambda i: reader.blocks[i].start)
        units = [reader.units[i] for i in order]
        blocks = [reader.blocks[i] for i in order]
        return Document(self.name, name, units, _Source(text, blocks, reader.langs))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        source: _Source = document.data
        text = source.text
        attribute_edits: list[tuple[int, int, str]] = []
        for start, end, quoted in source.langs:
            if html.unescape(text[start:end]) != options.tgt_lang:
                attribute_edits.append((start, end, _attribute_value(options.tgt_lang, quoted)))
        changed: list[tuple[Unit, _Block, Unit]] = []
        for unit, block, translation in zip(document.units, source.blocks, translations, strict=True):
            if same_unit(unit, translation):
                continue
            if block.kind == "attribute":
                value = _SPACE.sub(" ", translation.text).strip()
                attribute_edits.append((block.start, block.end, _attribute_value(value, block.quoted)))
            else:
                changed.append((unit, block, translation))

        attribute_edits.sort()
        edit_starts = [start for start, _, _ in attribute_edits]

        def piece(start: int, end: int) -> str:
            first = bisect_left(edit_starts, start)
            return _apply(text, start, end, attribute_edits[first:bisect_left(edit_starts, end, first)])

        edits: list[tuple[int, int, str]] = []
        for _, block, translation in changed:
            markup = {tag_id: (piece(*opening), piece(*closing)) for tag_id, (opening, closing) in block.markup.items()}
            edits.append((block.start, block.end, _render(_tidy(translation, block), markup)))
        rendered_starts = [start for start, _, _ in edits]  # in document order, not overlapping
        for start, end, value in attribute_edits:
            index = bisect_right(rendered_starts, start) - 1
            if index < 0 or edits[index][1] < end:  # not inside a block rendered anew (which has it already)
                edits.append((start, end, value))
        return _apply(text, 0, len(text), sorted(edits))


# -- reading -------------------------------------------------------------------------------------


def _check_xml(data: bytes, name: str) -> None:
    """XHTML must be well-formed XML: the first fault, with its line and column."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        line, column = err.position if err.position else (0, 0)  # libxml2's column counts from 1
        message = re.sub(r"(, line \d+, column \d+)+$", "", str(err.msg or err))
        raise InputError(f"{name}:{line}:{column}: malformed XML: {message}",
                         hint="fix the markup, or name the file .html to read it as HTML") from err


class _Tokeniser(html.parser.HTMLParser):
    """The parser's events with their source ranges (an event ends where the next one starts)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.events: list[_Event] = []

    def _add(self, kind: str, tag: str = "", attrs: tuple[tuple[str, str | None], ...] = ()) -> None:
        line, column = self.getpos()
        start = self.starts[line - 1] + column
        if self.events and self.events[-1].end < 0:
            last = self.events[-1]
            self.events[-1] = _Event(last.kind, last.start, start, last.tag, last.attrs)
        self.events.append(_Event(kind, start, -1, tag, attrs))  # type: ignore[arg-type]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag, tuple(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("startend", tag, tuple(attrs))

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("data")

    def handle_entityref(self, name: str) -> None:
        self._add("ref")

    def handle_charref(self, name: str) -> None:
        self._add("ref")

    def handle_comment(self, data: str) -> None:
        self._add("comment")

    def handle_decl(self, decl: str) -> None:
        self._add("other")

    def handle_pi(self, data: str) -> None:
        self._add("other")

    def unknown_decl(self, data: str) -> None:
        self._add("other")


def _tokenise(text: str, name: str) -> list[_Event]:
    tokeniser = _Tokeniser(text)
    tokeniser.feed(text)
    tokeniser.close()
    events = tokeniser.events
    if events and events[-1].end < 0:
        last = events[-1]
        events[-1] = _Event(last.kind, last.start, len(text), last.tag, last.attrs)
    for event in events:
        if event.kind == "data" and text.startswith("<!--", event.start):
            line, column = line_col(text, event.start)
            raise InputError(f"{name}:{line}:{column}: comment never closed ('<!--' without '-->')",
                             hint="close it with '-->'")
    return events


def _attribute_spans(raw: str) -> list[tuple[str, int, int, bool]]:
    """Each attribute of the start tag ``raw``: its name, its value's range in ``raw`` and whether it is quoted.

    Found with the parser's own patterns, as ``HTMLParser.parse_starttag`` finds them.
    """
    spans: list[tuple[str, int, int, bool]] = []
    found = html.parser.tagfind_tolerant.match(raw, 1)
    if not found:
        return spans
    position = found.end()
    while position < len(raw):
        attribute = html.parser.attrfind_tolerant.match(raw, position)
        if not attribute:
            break
        name, rest, value = attribute.group(1, 2, 3)
        if rest:
            start, end = attribute.span(3)
            quoted = value[:1] == value[-1:] and value[:1] in ("'", '"') and len(value) >= 2
            if quoted:
                start, end = start + 1, end - 1
            spans.append((name.lower(), start, end, quoted))
        position = attribute.end()
    return spans


class _Reader:
    """Walks the events: runs of inline content become units, translatable attributes too."""

    def __init__(self, text: str, events: list[_Event]) -> None:
        self.text = text
        self.events = events
        self.units: list[Unit] = []
        self.blocks: list[_Block] = []
        self.langs: list[tuple[int, int, bool]] = []
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def run(self) -> None:
        run: list[_Event] = []
        index = 0
        events = self.events
        while index < len(events):
            event = events[index]
            if event.kind in ("start", "startend", "end") and event.tag not in _INLINE:
                self._flush(run)
                run = []
                if event.kind != "end":
                    self._attributes(event)
                if event.kind == "start" and (event.tag in _OPAQUE or _no_translate(event)):
                    index = self._skip(index)
                    continue
            elif event.kind == "other":
                self._flush(run)
                run = []
            else:
                run.append(event)
            index += 1
        self._flush(run)

    def _skip(self, index: int) -> int:
        """The index after the end tag closing the element that starts at ``index`` (or after the last event)."""
        tag = self.events[index].tag
        depth = 0
        for position in range(index, len(self.events)):
            event = self.events[position]
            if event.tag == tag and event.kind == "start":
                depth += 1
            elif event.tag == tag and event.kind == "end":
                depth -= 1
                if depth == 0:
                    return position + 1
        return len(self.events)

    def _attributes(self, event: _Event) -> None:
        """The translatable attributes of a start tag as units; ``<html lang>`` noted for writing."""
        if _no_translate(event):
            return
        raw = self.text[event.start:event.end]
        values = dict(event.attrs)
        for name, start, end, quoted in _attribute_spans(raw):
            translatable = name in _ATTRIBUTES or (
                name == "content" and event.tag == "meta"
                and ((values.get("name") or "").lower() in _META_NAMES
                     or (values.get("property") or "").lower() in _META_NAMES))
            if event.tag == "html" and name in ("lang", "xml:lang"):
                self.langs.append((event.start + start, event.start + end, quoted))
            elif translatable:
                value = _SPACE.sub(" ", html.unescape(raw[start:end])).strip()
                if value:
                    line = bisect_right(self.starts, event.start)
                    self.units.append(Unit(value, (), f"line {line}, <{event.tag} {name}>"))
                    self.blocks.append(_Block(event.start + start, event.start + end, "attribute", quoted))

    def _flush(self, run: list[_Event]) -> None:
        text = self.text
        # Leading and trailing white space is not part of the unit.
        while run and run[0].kind == "data" and not text[run[0].start:run[0].end].strip(_ASCII_SPACE):
            run = run[1:]
        while run and run[-1].kind == "data" and not text[run[-1].start:run[-1].end].strip(_ASCII_SPACE):
            run = run[:-1]
        if not run:
            return
        first, last = run[0], run[-1]
        if first.kind == "data":
            lead = len(text[first.start:first.end]) - len(text[first.start:first.end].lstrip(_ASCII_SPACE))
            run[0] = _Event("data", first.start + lead, first.end)
        if last.kind == "data":
            trail = len(text[last.start:last.end]) - len(text[last.start:last.end].rstrip(_ASCII_SPACE))
            run[-1] = _Event("data", run[-1].start, last.end - trail)
        builder = _Builder(text)
        for event in run:
            builder.add(event)
            if event.kind in ("start", "startend") and not builder.keeping():
                self._attributes(event)
        unit = builder.unit(run[-1].end)
        if has_text(unit):
            line = bisect_right(self.starts, run[0].start)
            self.units.append(Unit(unit.text, unit.tags, f"line {line}"))
            self.blocks.append(_Block(run[0].start, run[-1].end, "text", True, builder.markup,
                                      {tag.id: tag.kind for tag in unit.tags}))


def _no_translate(event: _Event) -> bool:
    values = dict(event.attrs)
    return ((values.get("translate") or "").strip().lower() == "no"
            or "notranslate" in (values.get("class") or "").split())


class _Builder:
    """A run of inline events as plain text and tags; markup kept as source ranges."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.so_far = ""
        self.length = 0
        self.space = True  # the text so far ends with white space (or is empty): a space would collapse
        self.tags: list[Tag] = []
        self.markup: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
        # Open elements: (tag name, id, text offset, opening range, tag count, kind)
        self.stack: list[tuple[str, int, int, tuple[int, int], int, TagKind]] = []

    def keeping(self) -> bool:
        return any(kind == "keep" for *_, kind in self.stack)

    def add(self, event: _Event) -> None:
        text = self.text
        if event.kind in ("data", "ref"):
            self._emit(html.unescape(text[event.start:event.end]))
        elif event.kind == "start" and event.tag not in _VOID:
            kind: TagKind = "keep" if event.tag in _KEEP or _no_translate(event) or self.keeping() else "pair"
            tag_id = len(self.markup) + 1
            self.markup[tag_id] = ((event.start, event.end), (event.end, event.end))
            self.stack.append((event.tag, tag_id, self.length, (event.start, event.end), len(self.tags), kind))
        elif event.kind == "end" and any(entry[0] == event.tag for entry in self.stack):
            while self.stack:
                tag = self.stack[-1][0]
                self._close((event.start, event.end) if tag == event.tag else (event.start, event.start))
                if tag == event.tag:
                    break
        elif event.tag == "br":
            # A line break separates words, as a space would (one before the break renders the same),
            # except at the very start of an element, where it becomes part of the opening.
            if not (self.stack and self.stack[-1][2] == self.length and self.stack[-1][4] == len(self.tags)):
                self._emit(" ")
            self._empty(event.start, event.end)
            self.space = True
        else:  # a void element, a stray end tag, a comment
            self._empty(event.start, event.end)
            if event.kind != "comment" and event.tag in _VOID:
                self.space = False  # an image is not white space: a space after it stays

    def _emit(self, string: str) -> None:
        string = _SPACE.sub(" ", string)
        if self.space and string.startswith(" "):
            string = string[1:]
        if string:
            self.so_far += string
            self.length += len(string)
            self.space = string.endswith(" ")

    def _empty(self, start: int, end: int, tag_id: int | None = None) -> None:
        tag_id = len(self.markup) + 1 if tag_id is None else tag_id
        if self.stack:
            name, open_id, text_start, opening, count, kind = self.stack[-1]
            if text_start == self.length and count == len(self.tags):
                # At the very start of an element: part of its opening, so that rendering keeps it inside.
                self.markup[open_id] = ((opening[0], end), self.markup[open_id][1])
                self.stack[-1] = (name, open_id, text_start, (opening[0], end), count, kind)
                return
        self.markup[tag_id] = ((start, end), (end, end))
        self.tags.append(Tag(self.length, self.length, tag_id, "empty"))

    def _close(self, closing: tuple[int, int]) -> None:
        name, tag_id, start, opening, count, kind = self.stack.pop()
        if not self.so_far[start:].strip(" "):
            # No text inside (an image in a link, an empty span): one empty tag for all of it.
            del self.tags[count:]
            self._empty(opening[0], closing[1], tag_id)
            return
        # Empty tags at the very end of the element become part of its closing.
        while len(self.tags) > count and self.tags[-1].kind == "empty" and self.tags[-1].start == self.length:
            inner = self.tags.pop()
            closing = (self.markup[inner.id][0][0], closing[1])
        self.markup[tag_id] = (opening, closing)
        self.tags.append(Tag(start, self.length, tag_id, kind))

    def unit(self, end: int) -> Unit:
        while self.stack:  # elements left open at the end of the block: closed there, with no closing string
            self._close((end, end))
        text = self.so_far
        lead = len(text) - len(text.lstrip(" "))
        stripped = text.strip(" ")
        size = len(stripped)
        tags = [Tag(min(max(tag.start - lead, 0), size), min(max(tag.end - lead, 0), size), tag.id, tag.kind)
                for tag in self.tags]
        return Unit(stripped, tuple(sorted(tags, key=lambda tag: (tag.start, -tag.end, tag.id))))


# -- writing -------------------------------------------------------------------------------------


def _apply(text: str, start: int, end: int, edits: list[tuple[int, int, str]]) -> str:
    """``text[start:end]`` with the edits that fall inside it made (``edits`` sorted, not overlapping)."""
    out: list[str] = []
    position = start
    for e_start, e_end, value in edits:
        if start <= e_start and e_end <= end and e_start >= position:
            out.append(text[position:e_start])
            out.append(value)
            position = e_end
    out.append(text[position:end])
    return "".join(out)


def _attribute_value(value: str, quoted: bool) -> str:
    escaped = html.escape(value, quote=True)
    return escaped if quoted else f'"{escaped}"'


def _tidy(unit: Unit, block: _Block) -> Unit:
    """A translation made safe to render: tags known to the source, of the source's kind, inside the text."""
    text = unit.text
    size = len(text)
    tags: list[Tag] = []
    for tag in unit.tags:
        if tag.id not in block.kinds:
            continue
        kind = block.kinds[tag.id]
        start = min(max(tag.start, 0), size)
        end = start if kind == "empty" else min(max(tag.end, start), size)
        tags.append(Tag(start, end, tag.id, kind))
    return Unit(text, tuple(tags), unit.where)


def _render(unit: Unit, markup: dict[int, tuple[str, str]]) -> str:
    # Code is kept, but its text is still text: escape it like the rest.
    tags = tuple(Tag(tag.start, tag.end, tag.id, "pair" if tag.kind == "keep" else tag.kind) for tag in unit.tags)
    return render_tags(Unit(unit.text, tags), markup, lambda string: html.escape(string, quote=False))
