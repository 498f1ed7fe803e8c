"""Records: JSON Lines (``.jsonl``) and tab-separated values (``.tsv``), one unit per record.

Only one field of each record is translated (``FormatOptions.field``); the rest of the record, blank
lines and line endings stay as they are. A record whose translation equals its source comes back byte
for byte.

JSON Lines: each non-blank line is a JSON object. ``field`` is a key (default ``text``), or a dotted
path into nested objects (``meta.title``) when no key has the dotted name itself. Its value must be a
string; an empty or whitespace-only string gives no unit. A changed line is serialised again with
``json.dumps(ensure_ascii=False)``, keys in their order, with compact separators if the line had them.

TSV: a plain tab split, with no quoting or escapes (what MT corpora use; a ``"`` is just a character),
so a translation's tabs and line breaks are written as spaces. Every non-blank row must have as many
columns as the first. ``field`` chooses the column:

- a name (``text``): the first row is a header, and the column is the one with that name;
- a 1-based number (``2``): there is no header, every row is translated;
- not given: the first row is a header if exactly one of its cells is ``text`` or ``source`` (in any
  case; that column is translated); a file of one column with neither has no header and is translated
  whole; anything else (no such column, or both) is ambiguous and an error, which names the columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.errors import InputError
from pipeline.formats.base import Document, FormatOptions, Unit, decode_utf8

__all__ = ["JsonlFormat", "TsvFormat"]

_LINE = re.compile(r"([^\r\n]*)(\r\n|\n|\r|$)")
_DEFAULT_COLUMNS = ("text", "source")


@dataclass(frozen=True)
class _Data:
    lines: list[tuple[str, str]]  # (line, line ending), every line of the file
    rows: list[int]  # the index in ``lines`` of each unit's record
    key: Any  # JSONL: the path of keys; TSV: the 0-based column


def _lines(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _LINE.finditer(text) if m.start() < len(text)]


class JsonlFormat:
    """JSON Lines: one object a line; one of its string fields is translated."""

    name = "jsonl"
    extensions = (".jsonl",)
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        lines = _lines(text)
        field = options.field or "text"
        units: list[Unit] = []
        rows: list[int] = []
        for i, (line, _) in enumerate(lines):
            body = line.removeprefix("\ufeff") if i == 0 else line
            if not body.strip():
                continue
            try:
                record = json.loads(body)
            except json.JSONDecodeError as err:
                raise InputError(f"{name}:{i + 1}: not JSON: {err.msg} (column {err.colno})") from err
            if not isinstance(record, dict):
                raise InputError(f"{name}:{i + 1}: not a JSON object but {_kind(record)}",
                                 hint="each line of a .jsonl file must be an object such as {\"text\": \"...\"}")
            value = _lookup(record, field, name, i + 1)
            if not isinstance(value, str):
                raise InputError(f"{name}:{i + 1}: field {field!r} is {_kind(value)}, not a string",
                                 hint="choose a field that holds text with --field")
            if value.strip():
                units.append(Unit(value, where=f"line {i + 1}"))
                rows.append(i)
        return Document(self.name, name, units, _Data(lines, rows, field))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _Data = document.data

        def rewrite(line: str, text: str) -> str:
            record = json.loads(line)
            compact = json.dumps(record, ensure_ascii=False, separators=(",", ":")) == line.strip() or json.dumps(
                record, separators=(",", ":")) == line.strip()
            _assign(record, data.key, text)
            return json.dumps(record, ensure_ascii=False, separators=(",", ":") if compact else None)

        return _rewritten(document, translations, rewrite)


class TsvFormat:
    """Tab-separated values, split on tabs with no quoting; one column is translated."""

    name = "tsv"
    extensions = (".tsv",)
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        text = decode_utf8(data, name)
        lines = _lines(text)
        filled = [i for i, (line, _) in enumerate(lines) if line.removeprefix("\ufeff").strip()]
        if not filled:
            return Document(self.name, name, [], _Data(lines, [], 0))
        first = filled[0]
        header = lines[first][0].removeprefix("\ufeff").split("\t")
        column, has_header = _column(header, options.field, name, first + 1)
        units: list[Unit] = []
        rows: list[int] = []
        for i in filled[1:] if has_header else filled:
            cells = lines[i][0].removeprefix("\ufeff").split("\t")
            if len(cells) != len(header):
                what = "the header has" if has_header else f"line {first + 1} has"
                raise InputError(f"{name}:{i + 1}: {len(cells)} columns, {what} {len(header)}",
                                 hint="TSV cells are split on every tab, with no quoting")
            if cells[column].strip():
                units.append(Unit(cells[column], where=f"line {i + 1}"))
                rows.append(i)
        return Document(self.name, name, units, _Data(lines, rows, column))

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _Data = document.data

        def rewrite(line: str, text: str) -> str:
            cells = line.split("\t")
            cells[data.key] = re.sub(r"[\t\r\n]+", " ", text)
            return "\t".join(cells)

        return _rewritten(document, translations, rewrite)


def _rewritten(document: Document, translations: Sequence[Unit], rewrite: Callable[[str, str], str]) -> str:
    """The file with each record whose translation changed rewritten by ``rewrite(line, translation)``;
    every other line, and each line's end and byte-order mark, as it was."""
    data: _Data = document.data
    lines = list(data.lines)
    for source, unit, row in zip(document.units, translations, data.rows, strict=True):
        if unit.text == source.text:
            continue
        line, end = lines[row]
        bom = "\ufeff" if line.startswith("\ufeff") else ""
        lines[row] = (bom + rewrite(line.removeprefix("\ufeff"), unit.text), end)
    return "".join(line + end for line, end in lines)


def _column(header: list[str], field: str | None, name: str, line: int) -> tuple[int, bool]:
    """The 0-based column to translate, and whether the first row is a header."""
    names = ", ".join(repr(cell) for cell in header)
    if field is not None and field.strip().isdigit():
        number = int(field)
        if not 1 <= number <= len(header):
            raise InputError(f"{name}: no column {number} (line {line} has {len(header)} columns)")
        return number - 1, False
    if field is not None:
        matches = [i for i, cell in enumerate(header) if cell.strip() == field]
        if len(matches) != 1:
            problem = "no column" if not matches else "two or more columns"
            raise InputError(f"{name}:{line}: {problem} named {field!r} in the header (has: {names})",
                             hint="choose the column with --field, by its name or its 1-based number")
        return matches[0], True
    matches = [i for i, cell in enumerate(header) if cell.strip().lower() in _DEFAULT_COLUMNS]
    if len(matches) == 1:
        return matches[0], True
    if not matches and len(header) == 1:
        return 0, False
    raise InputError(f"{name}:{line}: which column to translate? the first row "
                     f"{'has more than one' if matches else 'has no'} 'text' or 'source' column (has: {names})",
                     hint="choose the column with --field, by its name or its 1-based number")


def _path(record: dict[str, Any], field: str) -> list[str] | None:
    """The keys leading to ``field``: the key itself if present, else its dotted parts."""
    if field in record:
        return [field]
    keys = field.split(".")
    node: Any = record
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return keys


def _lookup(record: dict[str, Any], field: str, name: str, line: int) -> Any:
    keys = _path(record, field)
    if keys is None:
        raise InputError(f"{name}:{line}: no field {field!r} (has: {', '.join(record) or 'nothing'})",
                         hint="choose the field to translate with --field (a key, or a dotted path a.b)")
    node: Any = record
    for key in keys:
        node = node[key]
    return node


def _assign(record: dict[str, Any], field: str, value: str) -> None:
    keys = _path(record, field) or [field]  # read() checked that the path is there
    node: Any = record
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string"
