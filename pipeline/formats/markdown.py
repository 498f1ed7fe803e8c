"""Markdown (CommonMark, with GFM tables and strikethrough), read with markdown-it-py.

Units: paragraphs (also inside list items and block quotes), headings (ATX and setext) and table
cells. Their inline markup becomes tags: emphasis, strong and strikethrough as pair tags whose
markup is the source's own ``*``/``_``/``**``/``~~``; a link as a pair tag ``[`` ...
``](url "title")`` (or ``][ref]``), exactly as written; code spans and autolinks as ``keep`` tags;
images, raw inline HTML and hard line breaks as ``empty`` tags (an image's alt text is part of its
markup, so it stays untranslated). A soft line break is a space in ``Unit.text``; backslash escapes
and entities are decoded.

Code blocks, HTML blocks, front matter, thematic breaks and link reference definitions are never
translated, nor is a block with nothing to translate (only images, only code).

Writing splices each block into its original character range in the source: a unit whose
translation is the unit itself keeps its source bytes, so the identity round trip is byte for
byte. A changed unit is rendered with its original markup strings on one line (soft breaks become
spaces; hard breaks stay, with the line's ``>``/indentation prefix repeated), its text escaped where
Markdown would read it as markup. A tag that a translation dropped loses its markup; its text stays.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.common.utils import MD_TRIM_CHARS
from markdown_it.helpers import parseLinkLabel
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from pipeline.formats.base import (
    Document,
    FormatOptions,
    Tag,
    TagKind,
    Unit,
    decode_utf8,
    has_text,
    render_tags,
    same_unit,
)

__all__ = ["MarkdownFormat"]

_NEWLINE = re.compile(r"\r\n?|\n")
# YAML front matter, as Jekyll, Hugo and MkDocs read it: "---" on the first line, up to "---" or "...".
_FRONT_MATTER = re.compile(r"---[ \t]*(?:\r\n?|\n).*?^(?:---|\.\.\.)[ \t]*(?:\r\n?|\n|\Z)", re.DOTALL | re.MULTILINE)
_SOFT_BREAK = re.compile(r" ?\n[ \t]*")
_HARD_BREAK = re.compile(r"( {2,}|\\)\n[ \t]*")
_CLOSERS = {"em_open": "em_close", "strong_open": "strong_close", "s_open": "s_close", "link_open": "link_close"}
# What Markdown would read as markup inside a line: escaped in re-rendered text. An underscore
# between two letters or digits cannot open or close emphasis, so snake_case stays as it is.
_SPECIAL = re.compile(r"[\\`*\[\]<]|(?<![^\W_])_|_(?![^\W_])|~(?=~)|(?<=~)~|&(?=#?[0-9A-Za-z]+;)")
# What Markdown would read as a new block at the start of a line: a heading, a quote, a list item,
# a setext underline or a thematic break.
_LINE_START = re.compile(r"^(?:#{1,6}(?=[ \t]|$)|>|[-+](?=[ \t]|$)|=+[ \t]*$|-+[ \t]*$|(\d{1,9})[.)](?=[ \t]|$))",
                         re.MULTILINE)
_CLOSING_HASHES = re.compile(r"(?:^|(?<=[ \t]))#+[ \t]*$")


class _Misaligned(Exception):
    """The inline tokens do not match the block's source: the block is kept as raw Markdown."""


@dataclass(frozen=True)
class _Block:
    """Where a unit stands in the source and how to render its translation.

    Attributes:
        start, end: the unit's character range in the source text.
        kind: ``paragraph``, ``setext`` (heading), ``heading`` (ATX), ``cell``, or ``raw``
            (the inline parse could not be matched to the source: the text is raw Markdown).
        newline: what a line break inside the block is written as: the line ending, then the
            next line's container prefix (``> ``, list indentation).
        markup: tag id -> (opening, closing), as written in the source.
        kinds: tag id -> the tag's kind in the source.
    """

    start: int
    end: int
    kind: Literal["paragraph", "setext", "heading", "cell", "raw"]
    newline: str = "\n"
    markup: dict[int, tuple[str, str]] = field(default_factory=dict)
    kinds: dict[int, TagKind] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    text: str
    blocks: list[_Block]


class MarkdownFormat:
    """CommonMark + GFM tables: one unit per paragraph, heading or table cell; byte-for-byte round trip."""

    name = "markdown"
    extensions = (".md", ".markdown")
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        base = 1 if text.startswith("\ufeff") else 0  # a byte-order mark is not part of the first block
        front = _FRONT_MATTER.match(text, base)
        if front:
            base = front.end()
        lines = _Lines(text, base)
        md = _parser()
        env: dict[str, Any] = {}
        tokens = md.parse(lines.src, env)
        units: list[Unit] = []
        blocks: list[_Block] = []
        column = 0
        for index, token in enumerate(tokens):
            if token.type == "tr_open":
                column = -1
            elif token.type in ("th_open", "td_open"):
                column += 1
            if token.type != "inline" or "lines" not in token.meta:
                continue
            for unit, block in _units(tokens[index - 1], token, column, lines, md, env):
                if has_text(unit):
                    units.append(unit)
                    blocks.append(block)
        return Document(self.name, name, units, _Source(text, blocks))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        source: _Source = document.data
        out: list[str] = []
        position = 0
        for unit, block, translation in zip(document.units, source.blocks, translations, strict=True):
            out.append(source.text[position:block.start])
            if same_unit(unit, translation):
                out.append(source.text[block.start:block.end])
            else:
                out.append(_render(block, translation))
            position = block.end
        out.append(source.text[position:])
        return "".join(out)


# -- parsing -------------------------------------------------------------------------------------


@cache
def _parser() -> MarkdownIt:
    """CommonMark + tables + strikethrough, recording where each inline block's lines start.

    ``text_join`` is off so that escapes and entities stay separate tokens carrying their source form.
    """
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
    for rule in md.block.ruler.__rules__:
        if rule.name in ("paragraph", "heading", "lheading", "table"):
            md.block.ruler.at(rule.name, _recording(rule.fn), {"alt": list(rule.alt)})
    return md


def _recording(fn: Any) -> Any:
    """The block rule ``fn``, also noting on each inline token it makes where its lines' content starts and ends.

    A line's content starts at ``bMarks + tShift``: after its container prefix (``>``, list
    indentation) and leading spaces, which only the block parser knows.
    """

    def rule(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
        first = len(state.tokens)
        found = fn(state, start_line, end_line, silent)
        if found and not silent:
            for token in state.tokens[first:]:
                if token.type == "inline" and token.map:
                    token.meta["lines"] = [(state.bMarks[line] + state.tShift[line], state.eMarks[line])
                                           for line in range(*token.map)]
        return found

    return rule


class _Lines:
    """The source as markdown-it sees it (``\\n`` line ends, no NUL), and offsets back into the original."""

    def __init__(self, text: str, base: int) -> None:
        self.text = text
        self.base = base
        self.first_line = len(_NEWLINE.findall(text, 0, base)) + 1  # of the parsed text, in the file
        body = text[base:]
        self.src = _NEWLINE.sub("\n", body).replace("\0", "\ufffd")
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.src)]
        self.orig_starts = [0] + [m.end() for m in _NEWLINE.finditer(body)]
        self.eols = [m.group() for m in _NEWLINE.finditer(body)]

    def orig(self, offset: int) -> int:
        line = bisect_right(self.starts, offset) - 1
        return self.base + self.orig_starts[line] + offset - self.starts[line]

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1

    def newline_after(self, line: int, next_content: int) -> str:
        """The line ending of ``line``, then the next line's text up to its content at ``next_content``."""
        eol = self.eols[line] if line < len(self.eols) else "\n"
        return eol + self.text[self.orig(self.starts[line + 1]):self.orig(next_content)]


def _units(parent: Token, inline: Token, column: int, lines: _Lines, md: MarkdownIt, env: dict[str, Any]
           ) -> list[tuple[Unit, _Block]]:
    content: str = inline.content
    spans: list[tuple[int, int]] = inline.meta["lines"]
    src = lines.src
    if not content.strip(MD_TRIM_CHARS):
        return []
    where = f"line {inline.map[0] + lines.first_line}" if inline.map else ""
    if parent.type in ("th_open", "td_open"):
        return _cell(inline, column, lines, md, env)
    count = content.count("\n") + 1
    if parent.type == "heading_open" and parent.markup.startswith("#"):
        line_start, line_end = spans[0]
        after = line_start
        while after < line_end and src[after] == "#":
            after += 1
        start = src.find(content, after, line_end)
        if start < 0 or src[after:start].strip(MD_TRIM_CHARS):
            return []  # cannot happen with markdown-it's heading rule; then the heading stays as it is
        kind: Literal["paragraph", "setext", "heading"] = "heading"
        end = start + len(content)
        newline = "\n"
    else:  # a paragraph or a setext heading: its content lines are the first lines of the block
        start = spans[0][0]
        while start < spans[0][1] and src[start] in MD_TRIM_CHARS:
            start += 1
        last_start, end = spans[count - 1]
        while end > last_start and src[end - 1] in MD_TRIM_CHARS:
            end -= 1
        if src[start:start + 1] != content[:1] or src[end - 1:end] != content[-1:]:
            return []
        kind = "setext" if parent.type == "heading_open" else "paragraph"
        newline = lines.newline_after(lines.line_of(start), spans[1][0]) if count > 1 else "\n"
    begin, finish = lines.orig(start), lines.orig(end)
    return [_block(content, inline.children or [], md, env, begin, finish, kind, newline, where)]


def _cell(inline: Token, column: int, lines: _Lines, md: MarkdownIt, env: dict[str, Any]
          ) -> list[tuple[Unit, _Block]]:
    """A table cell: its place in the row, found as markdown-it finds it (split at pipes not escaped)."""
    src = lines.src
    row_start, row_end = inline.meta["lines"][0]
    while row_start < row_end and src[row_start] in MD_TRIM_CHARS:
        row_start += 1
    while row_end > row_start and src[row_end - 1] in MD_TRIM_CHARS:
        row_end -= 1
    cells: list[tuple[int, int]] = []
    begin, escaped = row_start, False
    for position in range(row_start, row_end):
        if src[position] == "|" and not escaped:
            cells.append((begin, position))
            begin = position + 1
        escaped = src[position] == "\\"
    cells.append((begin, row_end))
    if cells and cells[0][0] == cells[0][1]:
        cells.pop(0)
    if cells and cells[-1][0] == cells[-1][1]:
        cells.pop()
    if column >= len(cells):
        return []
    start, end = cells[column]
    while start < end and src[start] in MD_TRIM_CHARS:
        start += 1
    while end > start and src[end - 1] in MD_TRIM_CHARS:
        end -= 1
    if src[start:end] != inline.content.replace("|", "\\|"):
        return []
    where = f"line {inline.map[0] + lines.first_line}, cell {column + 1}"
    return [_block(inline.content, inline.children or [], md, env, lines.orig(start), lines.orig(end), "cell",
                   "\n", where)]


def _block(content: str, children: list[Token], md: MarkdownIt, env: dict[str, Any], start: int, end: int,
           kind: Literal["paragraph", "setext", "heading", "cell"], newline: str, where: str) -> tuple[Unit, _Block]:
    try:
        text, tags, markup = _Inline(content, md, env).walk(children)
    except _Misaligned:
        raw = _NEWLINE.sub(" ", content)
        return Unit(raw, (), where), _Block(start, end, "raw", newline)
    kinds = {tag.id: tag.kind for tag in tags}
    return Unit(text, tags, where), _Block(start, end, kind, newline, markup, kinds)


class _Inline:
    """Match a block's inline tokens to its source, giving the plain text, the tags and their markup strings.

    markdown-it's inline tokens carry no positions; each one's source is found by checking its
    markup at the cursor, or by running the inline rule that made it again, silently, at the cursor.
    """

    def __init__(self, src: str, md: MarkdownIt, env: dict[str, Any]) -> None:
        self.src = src
        self.state = StateInline(src, md, env, [])
        self.rules = {rule.name: rule.fn for rule in md.inline.ruler.__rules__}
        self.text: list[str] = []
        self.length = 0
        self.tags: list[Tag] = []
        self.markup: dict[int, tuple[str, str]] = {}
        self.pos = 0
        self.stack: list[tuple[int, str, int, int, int, str, int, int]] = []

    def walk(self, tokens: list[Token]) -> tuple[str, tuple[Tag, ...], dict[int, tuple[str, str]]]:
        src = self.src
        # Open pair tags: (id, closing token type, text offset, source offset, tag count, closing markup,
        # a link's label end and end in the source)
        stack = self.stack
        index = 0
        while index < len(tokens):
            token = tokens[index]
            kind = token.type
            if kind == "text":
                self._expect(token.content)
                self._emit(token.content)
                self.pos += len(token.content)
            elif kind == "text_special":
                self._expect(token.markup)
                self._emit(token.content)
                self.pos += len(token.markup)
            elif kind == "softbreak":
                self.pos = self._match(_SOFT_BREAK).end()
                self._emit(" ")
            elif kind == "hardbreak":
                found = self._match(_HARD_BREAK)
                self._emit(" ")  # the break stands after a space, so the text reads on
                self._tag(self.length, self.length, "empty", found.group(1) + "\n", "")
                self.pos = found.end()
            elif kind == "code_inline":
                end = self._skip("backticks")
                ticks = token.markup
                inner = src[self.pos + len(ticks):end - len(ticks)].replace("\n", " ")
                opening, closing = ticks, ticks
                if len(inner) >= 2 and inner[0] == " " and inner[-1] == " " and inner.strip(" "):
                    opening, closing, inner = opening + " ", " " + closing, inner[1:-1]
                self._keep(inner, opening, closing)
                self.pos = end
            elif kind in ("em_open", "strong_open", "s_open"):
                self._expect(token.markup)
                stack.append((self._new_id(), _CLOSERS[kind], self.length, self.pos, len(self.tags), "", -1, -1))
                self.markup[stack[-1][0]] = (token.markup, "")
                self.pos += len(token.markup)
            elif kind == "link_open" and token.info == "auto":
                end = self._skip("autolink")
                self._keep(src[self.pos + 1:end - 1], "<", ">")
                self.pos = end
                while tokens[index].type != "link_close":
                    index += 1
            elif kind == "link_open":
                self._expect("[")
                end = self._skip("link")
                label_end = parseLinkLabel(self.state, self.pos, True)
                if label_end < 0:
                    raise _Misaligned
                closing = src[label_end:end]
                if closing in ("]", "][]"):
                    # A shortcut or collapsed reference names its definition by its text: once the text is
                    # translated, the link must name the definition explicitly.
                    closing = "][" + _NEWLINE.sub(" ", src[self.pos + 1:label_end]) + "]"
                tag_id = self._new_id()
                self.markup[tag_id] = ("[", "")
                stack.append((tag_id, "link_close", self.length, self.pos, len(self.tags), closing, label_end, end))
                self.pos += 1
            elif kind in ("em_close", "strong_close", "s_close", "link_close"):
                if not stack or stack[-1][1] != kind:
                    raise _Misaligned
                tag_id, _, start, source_start, tag_count, closing, label_end, end = stack.pop()
                if kind == "link_close":
                    if self.pos != label_end:
                        raise _Misaligned
                else:
                    self._expect(token.markup)
                    closing = token.markup
                    end = self.pos + len(closing)
                if start == self.length:
                    # Nothing to translate inside (a linked image, an empty link): one empty tag for all of it,
                    # since offsets alone could not keep an image inside its link.
                    del self.tags[tag_count:]
                    self.markup = {key: value for key, value in self.markup.items() if key < tag_id}
                    self._tag(start, start, "empty", src[source_start:end], "", tag_id)
                else:
                    # Images or HTML at the very end of the span become part of its closing, so that
                    # rendering keeps them inside.
                    while len(self.tags) > tag_count and self.tags[-1].kind == "empty" \
                            and self.tags[-1].start == self.length:
                        inner = self.tags.pop()
                        closing = self.markup.pop(inner.id)[0] + closing
                    self.markup[tag_id] = (self.markup[tag_id][0], closing)
                    self.tags.append(Tag(start, self.length, tag_id, "pair"))
                self.pos = end
            elif kind == "image":
                self._expect("![")
                end = self._skip("image")
                self._tag(self.length, self.length, "empty", src[self.pos:end], "")
                self.pos = end
            elif kind == "html_inline":
                self._expect(token.content)
                self._tag(self.length, self.length, "empty", token.content, "")
                self.pos += len(token.content)
            else:
                raise _Misaligned
            index += 1
        if stack or src[self.pos:].strip(MD_TRIM_CHARS):
            raise _Misaligned
        tags = tuple(sorted(self.tags, key=lambda tag: (tag.start, -tag.end, tag.id)))
        return "".join(self.text), tags, self.markup

    def _emit(self, text: str) -> None:
        self.text.append(text)
        self.length += len(text)

    def _new_id(self) -> int:
        return max(self.markup, default=0) + 1

    def _tag(self, start: int, end: int, kind: TagKind, opening: str, closing: str, tag_id: int | None = None
             ) -> None:
        if kind == "empty" and self.stack and tag_id is None:
            open_id, _, text_start, _, tag_count, *_ = self.stack[-1]
            if text_start == self.length and tag_count == len(self.tags):
                # At the very start of a span (an image first in a link): part of its opening.
                self.markup[open_id] = (self.markup[open_id][0] + opening, "")
                return
        tag_id = self._new_id() if tag_id is None else tag_id
        self.markup[tag_id] = (opening, closing)
        self.tags.append(Tag(start, end, tag_id, kind))

    def _keep(self, text: str, opening: str, closing: str) -> None:
        start = self.length
        self._emit(text)
        self._tag(start, self.length, "keep", opening, closing)

    def _expect(self, string: str) -> None:
        if not self.src.startswith(string, self.pos):
            raise _Misaligned

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.src, self.pos)
        if not found:
            raise _Misaligned
        return found

    def _skip(self, rule: str) -> int:
        """Where the construct that inline rule ``rule`` finds at the cursor ends."""
        state = self.state
        state.pos, state.posMax = self.pos, len(self.src)
        if not self.rules[rule](state, True):
            raise _Misaligned
        return state.pos


# -- writing -------------------------------------------------------------------------------------


def _render(block: _Block, unit: Unit) -> str:
    if block.kind == "raw":
        return _NEWLINE.sub(" ", unit.text).strip()
    unit = _tidy(unit, block)
    # A setext heading is a paragraph over "---": with a "|" in it (even "\\|"), it could read as a table.
    body = render_tags(unit, block.markup, _escape_pipes if block.kind == "setext" else _escape)
    if block.kind == "cell":
        return body.replace("|", "\\|")
    body = _LINE_START.sub(_escape_line_start, body)
    if block.kind == "heading":
        body = _CLOSING_HASHES.sub(lambda found: "\\" + found.group(), body)
    return body.replace("\n", block.newline)


def _tidy(unit: Unit, block: _Block) -> Unit:
    """A translation made safe to render: one line, no outer spaces, tags known and inside the text.

    Tags whose ids the source does not have are dropped; emphasis loses the spaces at its edges
    (``* a*`` is not emphasis) and is dropped if it covers nothing; a hard break at the edges of
    the text is dropped.
    """
    text = _NEWLINE.sub(" ", unit.text)
    # Outer spaces go, but not those after or before a tag at an edge (an image, a code span).
    known = [tag for tag in unit.tags if tag.id in block.markup]
    first = min([tag.start for tag in known], default=len(text))
    last = max([tag.end for tag in known], default=0)
    lead = min(len(text) - len(text.lstrip()), first)
    trail = min(len(text) - len(text.rstrip()), len(text) - last)
    text = text[lead:len(text) - trail]
    size = len(text)
    tags: list[Tag] = []
    for tag in unit.tags:
        if tag.id not in block.markup:
            continue
        kind = block.kinds[tag.id]
        start = min(max(tag.start - lead, 0), size)
        end = start if kind == "empty" else min(max(tag.end - lead, start), size)
        opening = block.markup[tag.id][0]
        if kind == "pair" and opening and set(opening) <= set("*_~"):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start == end:
                continue
        if kind == "empty" and opening.endswith("\n") and start in (0, size):
            continue
        if kind == "keep" and start == end:  # an empty code span would be literal backticks
            continue
        tags.append(Tag(start, end, tag.id, kind))
    return Unit(text, tuple(tags), unit.where)


def _escape(text: str) -> str:
    return _SPECIAL.sub(lambda found: "\\" + found.group(), text)


def _escape_pipes(text: str) -> str:
    return _escape(text).replace("|", "&#124;")


def _escape_line_start(found: re.Match[str]) -> str:
    if found.group(1) is not None:  # an ordered list marker: escape its "." or ")"
        digits = found.group(1)
        return digits + "\\" + found.group()[len(digits):]
    return "\\" + found.group()
