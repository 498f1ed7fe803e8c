"""Document formats: a registry of readers and writers that keep a file's structure and inline markup.

Each format is one small module with a class following :class:`~pipeline.formats.base.Format`.
:data:`FORMATS` names them lazily ("module:Class"), so reading a Markdown file never imports
python-docx; :data:`EXTENSIONS` picks a format from a file name.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from pipeline.errors import ConfigError, InputError
from pipeline.formats.base import Document, Format, FormatOptions, Tag, Unit, identity

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Document",
    "Format",
    "FormatOptions",
    "Tag",
    "Unit",
    "format_for",
    "get_format",
    "identity",
    "read_document",
    "render_document",
]

FORMATS: dict[str, str] = {
    "text": "pipeline.formats.text:TextFormat",
    "markdown": "pipeline.formats.markdown:MarkdownFormat",
    "html": "pipeline.formats.html:HtmlFormat",
    "srt": "pipeline.formats.subtitles:SrtFormat",
    "vtt": "pipeline.formats.subtitles:VttFormat",
    "xliff": "pipeline.formats.l10n:XliffFormat",
    "po": "pipeline.formats.l10n:PoFormat",
    "tmx": "pipeline.formats.l10n:TmxFormat",
    "jsonl": "pipeline.formats.records:JsonlFormat",
    "tsv": "pipeline.formats.records:TsvFormat",
    "docx": "pipeline.formats.docx:DocxFormat",
}
"""Document formats by name, as "module:Class", imported when first used."""

EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".srt": "srt",
    ".vtt": "vtt",
    ".xlf": "xliff",
    ".xliff": "xliff",
    ".po": "po",
    ".pot": "po",
    ".tmx": "tmx",
    ".jsonl": "jsonl",
    ".tsv": "tsv",
    ".docx": "docx",
}
"""The format each file extension means (lower case, with the dot)."""

_LOADED: dict[str, Format] = {}


def get_format(name: str) -> Format:
    """The format registered as ``name``.

    Raises:
        ConfigError: no such format (the message lists the known ones).
    """
    if name not in FORMATS:
        raise ConfigError(f"unknown document format {name!r} (known: {', '.join(sorted(FORMATS))})")
    if name not in _LOADED:
        module, _, cls = FORMATS[name].partition(":")
        try:
            _LOADED[name] = getattr(importlib.import_module(module), cls)()
        except ImportError as err:
            if (err.name or "").startswith("pipeline"):  # our own module is missing: a bug, not the user's
                raise
            raise ConfigError(
                f"the {name} format needs a package that is not installed: {err.name or err}",
                hint="reinstall mtpipe: pip install -e .",
            ) from err
    return _LOADED[name]


def format_for(path: str | os.PathLike[str] | None, explicit: str | None = None) -> str:
    """The format to read ``path`` with: ``explicit`` if given, else the one its extension names, else text.

    Standard input (``None`` or ``-``) is plain text unless ``explicit`` says otherwise.

    Raises:
        ConfigError: ``explicit`` is not a known format.
    """
    if explicit is not None:
        if explicit not in FORMATS:
            get_format(explicit)  # raises, listing the known formats
        return explicit
    if path is None or str(path) == "-":
        return "text"
    return EXTENSIONS.get(Path(path).suffix.lower(), "text")


def read_document(path: str | os.PathLike[str], fmt: str, options: FormatOptions, *, data: bytes | None = None
                  ) -> Document:
    """Read ``path`` (or ``data``, named ``path`` in messages) with the format ``fmt``.

    Raises:
        InputError: the file is missing, unreadable or not valid in its format.
        ConfigError: ``fmt`` is unknown or its library is not installed.
    """
    reader = get_format(fmt)
    name = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as err:
            raise InputError(f"{name}: no such file") from err
        except IsADirectoryError as err:
            raise InputError(f"{name}: is a folder, not a file") from err
        except OSError as err:
            raise InputError(f"{name}: cannot read: {err.strerror or err}") from err
    return reader.read(data, name, options)


def render_document(document: Document, translations: list[Unit], options: FormatOptions) -> bytes:
    """The translated file's bytes (text formats as UTF-8), ready to write atomically.

    Raises:
        InputError: the number of translations differs from the number of units.
    """
    if len(translations) != len(document.units):
        raise InputError(
            f"{document.name}: {len(translations)} translations for {len(document.units)} units",
            hint="pass exactly one translation per unit, in document order",
        )
    out = get_format(document.format).write(document, translations, options)
    return out if isinstance(out, bytes) else out.encode("utf-8")
