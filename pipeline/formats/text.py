"""Plain text: every non-empty line is a unit; blank lines, indentation and line endings are kept."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.formats.base import Document, FormatOptions, Unit, decode_utf8

__all__ = ["TextFormat"]

_LINE = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)


class TextFormat:
    """One unit per non-empty line; everything around the units comes back byte for byte."""

    name = "text"
    extensions = (".txt",)
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        pieces: list[str] = []  # text between units, then alternately a unit's place and the text after it
        units: list[Unit] = []
        gap = ""
        if text.startswith("\ufeff"):  # a byte-order mark is not part of the first line's text
            gap, text = "\ufeff", text[1:]
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            lead, body, trail = _LINE.match(line).groups()  # type: ignore[union-attr]
            if not body:
                gap += line
                continue
            pieces.append(gap + lead)
            units.append(Unit(body, where=f"line {number}"))
            gap = trail
        pieces.append(gap)
        return Document(self.name, name, units, pieces)

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        pieces: list[str] = document.data
        out = [pieces[0]]
        for unit, gap in zip(translations, pieces[1:], strict=True):
            out.append(re.sub(r"\s*\n\s*", " ", unit.text))
            out.append(gap)
        return "".join(out)
