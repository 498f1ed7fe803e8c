"""What every document format reads into and writes from: units of text with their inline markup.

A format turns a file into a :class:`Document`: an ordered list of :class:`Unit`,
one per translatable block (a paragraph, a heading, a subtitle cue, a PO
message, a table cell...). A unit's inline markup (``<b>``, a Markdown link, a
DOCX run in bold, an XLIFF ``<ph>``) is not in its text: it is a list of
:class:`Tag` spans over the text, and the markup itself stays in the format's
private ``Document.data``, keyed by ``Tag.id``. Everything that is not
translated (code blocks, timings, attributes, other columns) also stays in
``data``.

Writing gets one translated :class:`Unit` per source unit, whose tags carry
the same ids in their new places, and returns the whole file. The caller
(:mod:`pipeline.formats`) writes it atomically, so a failure never leaves a
half-written file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

__all__ = [
    "Document", "Format", "FormatOptions", "Tag", "TagKind", "Unit",
    "decode_utf8", "has_text", "identity", "line_col", "render_tags", "same_unit",
]

TagKind = Literal["pair", "empty", "keep"]
"""``pair``: markup around ``text[start:end]`` (``<b>``...``</b>``); ``empty``: markup at
``start`` with no text inside (``<br>``, ``<img>``, an XLIFF ``<x/>``); ``keep``: text that
must come through translation unchanged (code spans, ``%s``, ``{name}``, URLs)."""


@dataclass(frozen=True)
class Tag:
    """Inline markup over part of a unit's text.

    Attributes:
        start: the offset of the first character it covers (for ``empty``: where it stands).
        end: the offset just past the last character it covers (``== start`` for ``empty``).
        id: the format's key for the markup in ``Document.data``; unique within the unit.
        kind: see :data:`TagKind`.
    """

    start: int
    end: int
    id: int
    kind: TagKind = "pair"


@dataclass(frozen=True)
class Unit:
    """One translatable block of a document.

    Attributes:
        text: the plain text, without markup; what a reader sees.
        tags: the inline markup over ``text``, properly nested (two spans either nest or do not overlap).
        where: where the unit is, for messages (``"line 12"``, ``"cue 4"``, ``"msgid 'Open file'"``).
    """

    text: str
    tags: tuple[Tag, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class FormatOptions:
    """What a format may need beyond the file itself.

    Attributes:
        src_lang: the source language (BCP-47), e.g. for XLIFF ``source-language``.
        tgt_lang: the target language, e.g. for XLIFF ``target-language`` or ``<html lang>``.
        field: JSONL: the key to translate; TSV: the column (a header name or a 1-based number).
        line_length: subtitles: the longest line a rewrapped cue may have, in characters.
    """

    src_lang: str = "en"
    tgt_lang: str = "pt"
    field: str | None = None
    line_length: int = 42


@dataclass
class Document:
    """A file read by a format.

    Attributes:
        format: the format's name (a key of :data:`pipeline.formats.FORMATS`).
        name: the file's name, for messages.
        units: the translatable blocks, in document order.
        data: the format's own record of everything else, for :meth:`Format.write`.
    """

    format: str
    name: str
    units: list[Unit]
    data: Any = field(default=None, repr=False)


class Format(Protocol):
    """A document format: ``read`` bytes into a :class:`Document`, ``write`` it back translated.

    Attributes:
        name: the registry key.
        extensions: the file extensions it claims, with the dot, lower case.
        binary: whether ``write`` returns bytes (DOCX) rather than text.
    """

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    binary: ClassVar[bool]

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        """Parse a file.

        Raises:
            InputError: the file is not valid in this format; the message names
                ``name`` and the position (line, column, cue, entry) of the fault.
        """
        ...

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str | bytes:
        """The translated file: ``document`` with each unit replaced by its translation, in order."""
        ...


def decode_utf8(data: bytes, name: str) -> str:
    """``data`` as text, or an error naming the file, the line and the column of the first bad byte.

    Raises:
        InputError: ``data`` is not UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        from pipeline.errors import InputError

        before = data[: err.start].decode("utf-8", "replace")
        line, col = line_col(before, len(before))
        raise InputError(f"{name}:{line}:{col}: not UTF-8 (byte 0x{data[err.start]:02x})",
                         hint="convert the file to UTF-8, e.g. iconv -t utf-8") from err


def line_col(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[offset]``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def identity(document: Document) -> list[Unit]:
    """Each unit as its own translation: what an identity system gives (for round-trip tests)."""
    return list(document.units)


def render_tags(
    unit: Unit,
    markup: Mapping[int, tuple[str, str]],
    escape: Callable[[str], str] = lambda text: text,
) -> str:
    """``unit.text`` with each tag's markup put back: ``markup[id] = (opening, closing)``.

    At one offset, tags that end there close first (innermost first), then
    ``empty`` tags stand, then tags that start there open (outermost first).
    Text is passed through ``escape`` (e.g. ``html.escape``) except inside
    ``keep`` tags, whose text is written as it is.

    Raises:
        KeyError: a tag's id has no markup.
    """
    events: list[tuple[int, int, int, int, str]] = []  # (offset, order, tie-break, sequence, string)
    for seq, tag in enumerate(unit.tags):
        opening, closing = markup[tag.id]
        if tag.kind == "empty":
            events.append((tag.start, 1, 0, seq, opening + closing))
            continue
        events.append((tag.end, 0, -tag.start, -seq, closing))
        events.append((tag.start, 2, -tag.end, seq, opening))
    events.sort()
    keep = [(tag.start, tag.end) for tag in unit.tags if tag.kind == "keep"]
    out: list[str] = []
    position = 0
    for offset, _, _, _, string in events:
        out.append(_escaped(unit.text, position, offset, keep, escape))
        out.append(string)
        position = max(position, offset)
    out.append(_escaped(unit.text, position, len(unit.text), keep, escape))
    return "".join(out)


def _escaped(text: str, start: int, end: int, keep: list[tuple[int, int]],
             escape: Callable[[str], str]) -> str:
    if start >= end:
        return ""
    if any(k_start <= start and end <= k_end for k_start, k_end in keep):
        return text[start:end]
    return escape(text[start:end])


def has_text(unit: Unit) -> bool:
    """Whether a unit has text outside its keep tags (else there is nothing to translate)."""
    kept = bytearray(len(unit.text))
    for tag in unit.tags:
        if tag.kind == "keep":
            kept[tag.start : tag.end] = b"\1" * (tag.end - tag.start)
    return any(not char.isspace() and not kept[i] for i, char in enumerate(unit.text))


def same_unit(unit: Unit, translation: Unit) -> bool:
    """Whether a translation is the unit itself: the same text and the same tags in the same places."""

    def key(tag: Tag) -> tuple[int, int, int, str]:
        return tag.start, tag.end, tag.id, tag.kind

    return unit.text == translation.text and sorted(map(key, unit.tags)) == sorted(map(key, translation.tags))
