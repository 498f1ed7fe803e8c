"""Subtitles: SubRip (``.srt``) and WebVTT (``.vtt``), one unit per cue.

A cue's text lines are joined with a space into :attr:`Unit.text`; inline markup (``<i>``, ``<b>``,
``<u>``, ``<font ...>``; in WebVTT also ``<c.x>``, ``<v Speaker>``, ``<lang xx>``, ``<ruby>``) becomes
``pair`` tags holding the original markup strings, and SubRip's ASS overrides (``{\\an8}``) and WebVTT's
karaoke timestamps (``<00:01.500>``) ``empty`` tags. An opening tag that is never closed (WebVTT's
``<v Speaker>`` usually is not) covers the rest of the cue, with an empty closing string; a closing tag
that closes nothing is an ``empty`` tag, so that it comes back where it was.

Writing keeps everything but the cue text exactly as it was: numbers, timings, cue settings, identifiers,
the WebVTT header and its NOTE, STYLE and REGION blocks, blank lines, line endings. A cue whose
translation equals its source keeps its original lines, so an identity translation gives the file back
byte for byte. Any other cue is rewrapped to the original cue's number of lines (see :func:`wrap`), and a
tag the translation dropped loses its markup.

The block structure is checked here, line by line, because the libraries forgive too much (pysubs2 skips
a cue with a broken timing without a word); pysubs2 (SubRip) and webvtt-py (WebVTT) then read the file
and must find the same cues.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pysubs2
import webvtt
from pysubs2.formats.subrip import SubripFormat

from pipeline.errors import InputError
from pipeline.formats.base import Document, FormatOptions, Tag, Unit, decode_utf8, render_tags

__all__ = ["SrtFormat", "VttFormat", "wrap"]

_SRT_TIME = SubripFormat.TIMESTAMP.pattern.replace("(", "(?:")
_SRT_TIMING = re.compile(rf"\s*{_SRT_TIME}\s*-->\s*{_SRT_TIME}(?:\s.*)?")
_VTT_TIME = r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}"
_VTT_TIMING = re.compile(rf"{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t].*)?")
_NUMBER = re.compile(r"\s*\d+\s*")
_LINE = re.compile(r"([^\r\n]*)(\r\n|\n|\r|$)")
# An HTML-like tag (a letter after "<" or "</"), a WebVTT timestamp tag, or (SubRip only) an ASS override.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?:[.\s][^<>]*)?>|<\d[\d:.]*>|(\{\\[^{}]*\})")
_WORD = re.compile(r"[^ \t\r\n\f\v]+")  # a no-break space does not separate words
_BREAK_AFTER = ".,;:!?…)»”\"'"


@dataclass(frozen=True)
class _Cue:
    """Where a cue's text lines are in the file, and how to write them back."""

    start: int  # offset of the first text line
    end: int  # offset just past the last text line's text (before its line ending)
    lines: int  # how many text lines the cue has
    newline: str  # the line ending between its lines
    markup: dict[int, tuple[str, str]]


@dataclass(frozen=True)
class _Data:
    text: str
    cues: list[_Cue]  # one per unit


class _SubtitleFormat:
    name = ""
    extensions: tuple[str, ...] = ()
    binary = False
    vtt = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        lines = [(m.start(), m.group(1), m.group(2)) for m in _LINE.finditer(text) if m.start() < len(text)]
        blocks = _blocks(lines, self.vtt)
        units: list[Unit] = []
        cues: list[_Cue] = []
        number = 0
        for index, block in enumerate(blocks):
            first = self._text_start(block, index, number + 1, name, lines)
            if first is None:  # a WebVTT header, NOTE, STYLE or REGION block
                continue
            number += 1
            body = block[first:]
            _check_text(body, number, name, lines)
            if not body:
                continue
            start, end = lines[body[0]][0], lines[body[-1]][0] + len(lines[body[-1]][1])
            unit, markup = _parse_cue(text[start:end], self.vtt)
            if not unit.text:
                continue
            units.append(Unit(unit.text, unit.tags, where=f"cue {number}"))
            newline = lines[body[0] - 1][2] or "\n"  # the timing line's
            cues.append(_Cue(start, end, len(body), newline, markup))
        self._cross_check(text, number, name)
        return Document(self.name, name, units, _Data(text, cues))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _Data = document.data
        out: list[str] = []
        position = 0
        escape: Callable[[str], str] = _vtt_escape if self.vtt else _no_escape
        for source, unit, cue in zip(document.units, translations, data.cues, strict=True):
            out.append(data.text[position:cue.start])
            position = cue.end
            if (unit.text, unit.tags) == (source.text, source.tags):
                out.append(data.text[cue.start:cue.end])
                continue
            tags = tuple(tag for tag in unit.tags if tag.id in cue.markup)
            text, tags = _squeeze(unit.text, tags)
            breaks = wrap(text, cue.lines, options.line_length)
            chars = list(text)
            for offset in breaks:
                chars[offset] = "\n"
            rendered = render_tags(Unit("".join(chars), tags), cue.markup, escape)
            out.append(rendered.replace("\n", cue.newline))
        out.append(data.text[position:])
        return "".join(out)

    def _text_start(self, block: list[int], index: int, number: int, name: str,
                    lines: list[tuple[int, str, str]]) -> int | None:
        """The index in ``block`` of the cue's first text line, or None for a block that is not a cue."""
        raise NotImplementedError

    def _cross_check(self, text: str, cues: int, name: str) -> None:
        raise NotImplementedError


class SrtFormat(_SubtitleFormat):
    """SubRip: numbered cues, ``00:00:01,000 --> 00:00:02,500`` timings, HTML-like tags."""

    name = "srt"
    extensions = (".srt",)

    def _text_start(self, block: list[int], index: int, number: int, name: str,
                    lines: list[tuple[int, str, str]]) -> int | None:
        head = _body(lines, block[0]).removeprefix("\ufeff")
        if _SRT_TIMING.fullmatch(head):  # no cue number: pysubs2 reads these too
            return 1
        if not _NUMBER.fullmatch(head):
            if "-->" in head:
                raise _error(name, number, block[0], f"broken timing {head.strip()!r}")
            raise _error(name, number, block[0], f"expected a cue number or a timing, got {head.strip()!r}",
                         hint="a blank line inside a cue's text ends the cue; remove it")
        if len(block) < 2:
            raise _error(name, number, block[0], "a cue number with no timing after it")
        timing = _body(lines, block[1])
        if not _SRT_TIMING.fullmatch(timing):
            raise _error(name, number, block[1], f"broken timing {timing.strip()!r}",
                         hint="a timing is 00:01:02,000 --> 00:01:04,500")
        return 2

    def _cross_check(self, text: str, cues: int, name: str) -> None:
        try:
            found = len(pysubs2.SSAFile.from_string(text.removeprefix("\ufeff"), format_="srt"))
        except Exception as err:  # any failure of the library on a file we accepted
            raise InputError(f"{name}: pysubs2 cannot read it: {err}") from err
        if found != cues:
            raise InputError(f"{name}: pysubs2 reads {found} cues, the blocks make {cues}")


class VttFormat(_SubtitleFormat):
    """WebVTT: a ``WEBVTT`` header, cues with optional identifiers and settings, NOTE/STYLE/REGION blocks."""

    name = "vtt"
    extensions = (".vtt",)
    vtt = True

    def _text_start(self, block: list[int], index: int, number: int, name: str,
                    lines: list[tuple[int, str, str]]) -> int | None:
        head = _body(lines, block[0])
        if index == 0:
            if not re.fullmatch(r"\ufeff?WEBVTT(?:[ \t].*)?", head):
                raise InputError(f"{name}:1: not a WebVTT file (the first line must start with 'WEBVTT')",
                                 hint="is it a SubRip file? name it .srt")
            for i in block[1:]:
                if "-->" in _body(lines, i):
                    raise _error(name, number, i, "missing blank line after the WEBVTT header")
            return None
        if re.match(r"(NOTE|STYLE|REGION)(?:[ \t]|$)", head) and "-->" not in head:
            return None
        if "-->" in head:
            at = 0
        elif len(block) > 1 and "-->" in _body(lines, block[1]):
            at = 1
        else:
            raise _error(name, number, block[0], f"a block with no timing: {head.strip()!r}",
                         hint="a blank line inside a cue's text ends the cue; remove it")
        timing = _body(lines, block[at])
        if not _VTT_TIMING.fullmatch(timing):
            raise _error(name, number, block[at], f"broken timing {timing.strip()!r}",
                         hint="a timing is 00:01:02.000 --> 00:01:04.500, then optional cue settings")
        # Cue settings are not checked: players ignore the ones they do not know (align:middle,
        # from an older draft, is common), and they are written back as they are.
        return at + 1

    def _cross_check(self, text: str, cues: int, name: str) -> None:
        try:
            found = len(webvtt.from_string(text.removeprefix("\ufeff")))
        except Exception as err:  # any failure of the library on a file we accepted
            raise InputError(f"{name}: webvtt-py cannot read it: {err}") from err
        if found != cues:
            raise InputError(f"{name}: webvtt-py reads {found} cues, the blocks make {cues}")


def wrap(text: str, lines: int, line_length: int) -> list[int]:
    """Where to break ``text`` (offsets of spaces) to make about ``lines`` lines of balanced length.

    Lines are kept as close to equal length as possible, a break after punctuation or before a
    dialogue dash is preferred, and no line is longer than ``line_length`` unless it is a single
    word: when ``lines`` lines cannot do that, more lines are used.

    Args:
        text: words separated by single spaces.
        lines: how many lines the original cue had.
        line_length: the longest line wanted, in characters.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if len(words) < 2:
        return []
    count = max(1, min(lines, len(words)))
    while True:
        best = _best_split(text, words, count, line_length)
        too_long = any(
            words[b][1] - words[a][0] > line_length and b > a
            for a, b in zip([0, *best], [b - 1 for b in best] + [len(words) - 1], strict=True)
        )
        if not too_long or count >= len(words):
            return [words[i][0] - 1 for i in best]
        count += 1


def _best_split(text: str, words: list[tuple[int, int]], count: int, line_length: int) -> list[int]:
    """The indices of the words that start lines 2..count, by dynamic programming over the break costs."""
    n = len(words)
    ideal = (words[-1][1] - words[0][0] - (count - 1)) / count

    def cost(a: int, b: int, line: int) -> float:  # words a..b-1 on line number `line` (1-based)
        length = words[b - 1][1] - words[a][0]
        over = max(0, length - line_length) if b - a > 1 else 0
        # On a tie, the shorter line goes on top (a "bottom-heavy" cue, as subtitling guides advise).
        return (length - ideal) ** 2 + 10_000 * over + 0.001 * length * (count - line)

    def bonus(i: int) -> float:  # a break before word i: a dialogue dash, or after punctuation
        before, after = text[words[i - 1][1] - 1], text[words[i][0]]
        dash = ideal**2 if after in "-–—" else 0.0
        return dash + ((ideal / 2) ** 2 if before in _BREAK_AFTER else 0.0)

    inf = float("inf")
    best: list[list[float]] = [[inf] * (n + 1) for _ in range(count + 1)]
    back: list[list[int]] = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for k in range(1, count + 1):
        for b in range(k, n - (count - k) + 1):
            for a in range(k - 1, b):
                if best[k - 1][a] == inf:
                    continue
                value = best[k - 1][a] + cost(a, b, k) - (bonus(a) if a else 0.0)
                if value < best[k][b]:
                    best[k][b], back[k][b] = value, a
    starts: list[int] = []
    b = n
    for k in range(count, 0, -1):
        b = back[k][b]
        starts.append(b)
    return sorted(s for s in starts if s)


def _blocks(lines: list[tuple[int, str, str]], vtt: bool) -> list[list[int]]:
    """Runs of non-blank lines (their indices). In WebVTT only an empty line ends a block (as in the
    standard and webvtt-py); in SubRip a line of spaces does too (as in pysubs2)."""
    blocks: list[list[int]] = []
    current: list[int] = []
    for i, (_, body, _) in enumerate(lines):
        if (body.removeprefix("\ufeff") if vtt else body.strip(" \t\ufeff")):
            current.append(i)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _body(lines: list[tuple[int, str, str]], i: int) -> str:
    return lines[i][1]


def _check_text(body: list[int], number: int, name: str, lines: list[tuple[int, str, str]]) -> None:
    """A timing inside a cue's text means the blank line before the next cue is missing."""
    for j, i in enumerate(body):
        line = _body(lines, i)
        if "-->" in line and (_SRT_TIMING.fullmatch(line) or _VTT_TIMING.fullmatch(line)
                              or (j > 0 and _NUMBER.fullmatch(_body(lines, body[j - 1])))):
            at = body[j - 1] if j > 0 and _NUMBER.fullmatch(_body(lines, body[j - 1])) else i
            raise _error(name, number, at, "missing blank line before the next cue")


def _error(name: str, number: int, line: int, message: str, hint: str | None = None) -> InputError:
    return InputError(f"{name}: cue {number} (line {line + 1}): {message}", hint=hint)


def _parse_cue(raw: str, vtt: bool) -> tuple[Unit, dict[int, tuple[str, str]]]:
    """A cue's text without its markup, the markup as tags; whitespace runs (line breaks) become one space."""
    plain: list[str] = []
    length = 0
    tags: list[Tag] = []
    markup: dict[int, tuple[str, str]] = {}
    stack: list[tuple[str, int, int]] = []  # (tag name, start, id)
    position = 0
    for match in _TAG.finditer(raw):
        chunk = raw[position:match.start()]
        chunk = html.unescape(chunk) if vtt else chunk
        plain.append(chunk)
        length += len(chunk)
        position = match.end()
        closing, tag_name, ass = match.groups()
        if ass is not None and vtt:  # braces are plain text in WebVTT
            plain.append(ass)
            length += len(ass)
            continue
        tag_id = len(markup)
        if tag_name is None or ass is not None:  # a karaoke timestamp or an ASS override
            markup[tag_id] = (match.group(0), "")
            tags.append(Tag(length, length, tag_id, "empty"))
        elif not closing:
            markup[tag_id] = (match.group(0), "")
            stack.append((tag_name.lower(), length, tag_id))
        elif stack and stack[-1][0] == tag_name.lower():
            _, start, open_id = stack.pop()
            markup[open_id] = (markup[open_id][0], match.group(0))
            tags.append(Tag(start, length, open_id))
        else:  # closes nothing: keep it where it stands
            markup[tag_id] = (match.group(0), "")
            tags.append(Tag(length, length, tag_id, "empty"))
    chunk = raw[position:]
    plain.append(html.unescape(chunk) if vtt else chunk)
    length += len(plain[-1])
    for _, start, open_id in stack:  # never closed: runs to the end of the cue
        tags.append(Tag(start, length, open_id))
    text, squeezed = _squeeze("".join(plain), tuple(sorted(tags, key=lambda t: (t.start, -t.end, t.id))))
    return Unit(text, squeezed), markup


def _squeeze(text: str, tags: tuple[Tag, ...]) -> tuple[str, tuple[Tag, ...]]:
    """``text`` with each whitespace run made one space and the ends stripped; tags moved with the words.

    A tag that starts in whitespace starts at the next word; one that ends in whitespace ends after
    the word before it.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    new_starts: list[int] = []
    at = 0
    for start, end in words:
        new_starts.append(at)
        at += end - start + 1
    total = max(0, at - 1)

    def moved(offset: int, is_start: bool) -> int:
        offset = min(max(offset, 0), len(text))
        for (start, end), new in zip(words, new_starts, strict=True):
            if offset < start:
                return new if is_start else max(0, new - 1)
            if offset <= end:
                return new + offset - start
        return total

    out: list[Tag] = []
    for tag in tags:
        start = moved(tag.start, True)
        end = start if tag.kind == "empty" else max(start, moved(tag.end, False))
        out.append(Tag(start, end, tag.id, tag.kind))
    return " ".join(text[s:e] for s, e in words), tuple(out)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _no_escape(text: str) -> str:
    return text
