"""pipeline.formats: the registry, and plain text as a format."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import ConfigError, InputError
from pipeline.formats import (
    EXTENSIONS,
    FORMATS,
    FormatOptions,
    Unit,
    format_for,
    get_format,
    identity,
    read_document,
    render_document,
)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_registered_format_loads_under_its_name(name: str) -> None:
    module, _, cls = FORMATS[name].partition(":")
    fmt = getattr(importlib.import_module(module), cls)()
    assert fmt.name == name
    assert all(EXTENSIONS[ext] == name for ext in fmt.extensions)
    assert isinstance(fmt.binary, bool)


def test_every_extension_names_a_registered_format() -> None:
    assert set(EXTENSIONS.values()) <= set(FORMATS)


@pytest.mark.parametrize(
    ("path", "explicit", "expected"),
    [
        pytest.param("page.HTML", None, "html", id="case"),
        pytest.param("notes.md", None, "markdown", id="md"),
        pytest.param("talk.srt", None, "srt", id="srt"),
        pytest.param("data.unknown", None, "text", id="unknown-extension"),
        pytest.param("-", None, "text", id="stdin"),
        pytest.param("-", "html", "html", id="stdin-explicit"),
        pytest.param("page.html", "text", "text", id="explicit-wins"),
    ],
)
def test_the_format_comes_from_the_extension_unless_given(path: str, explicit: str | None, expected: str) -> None:
    assert format_for(path, explicit) == expected


def test_an_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown document format 'rtf' \(known: docx, html, jsonl, markdown"):
        format_for("x.rtf", "rtf")
    with pytest.raises(ConfigError, match=r"unknown document format"):
        get_format("rtf")


def test_reading_a_missing_file_or_a_folder_fails_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope.md: no such file"):
        read_document(tmp_path / "nope.md", "text", FormatOptions())
    with pytest.raises(InputError, match=r"is a folder"):
        read_document(tmp_path, "text", FormatOptions())


def test_text_that_is_not_utf8_is_refused_with_its_line_and_column() -> None:
    with pytest.raises(InputError, match=r"x.txt:2:3: not UTF-8 \(byte 0xff\)"):
        read_document("x.txt", "text", FormatOptions(), data=b"ok\nab\xffc\n")


@given(st.text(alphabet="ab \t\r\n\ufeff", max_size=40))
def test_plain_text_round_trips_byte_for_byte(text: str) -> None:
    data = text.encode("utf-8")
    document = read_document("x.txt", "text", FormatOptions(), data=data)
    assert render_document(document, identity(document), FormatOptions()) == data
    assert all(unit.text == unit.text.strip() and unit.text for unit in document.units)


def test_plain_text_keeps_blank_lines_and_indentation_around_translations() -> None:
    data = b"  Title\n\nFirst line.\r\nSecond line.  \n"
    document = read_document("x.txt", "text", FormatOptions(), data=data)
    assert [unit.text for unit in document.units] == ["Title", "First line.", "Second line."]
    assert [unit.where for unit in document.units] == ["line 1", "line 3", "line 4"]
    out = render_document(document, [Unit("Título"), Unit("Primeira."), Unit("Segunda.")], FormatOptions())
    assert out == b"  Titulo\n\nPrimeira.\r\nSegunda.  \n".replace(b"Titulo", "Título".encode())


def test_render_checks_the_number_of_translations() -> None:
    document = read_document("x.txt", "text", FormatOptions(), data=b"a\nb\n")
    with pytest.raises(InputError, match=r"x.txt: 1 translations for 2 units"):
        render_document(document, [Unit("a")], FormatOptions())
