"""JSON Lines and TSV: one field of each record translated, everything else byte for byte."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.formats import format_for, get_format, identity, render_document
from pipeline.formats.base import FormatOptions, Unit
from pipeline.formats.records import JsonlFormat, TsvFormat

DATA = Path(__file__).parent / "data" / "formats"
OPTIONS = FormatOptions()


def upper(units: list[Unit]) -> list[Unit]:
    return [Unit(u.text.upper(), u.tags, u.where) for u in units]


@pytest.mark.parametrize("path", sorted(DATA.glob("*.jsonl")) + sorted(DATA.glob("*.tsv")), ids=lambda p: p.name)
def test_identity_gives_each_fixture_back_byte_for_byte(path: Path) -> None:
    fmt = get_format(format_for(path))
    data = path.read_bytes()
    document = fmt.read(data, path.name, OPTIONS)
    assert document.units
    assert render_document(document, identity(document), OPTIONS) == data


@pytest.mark.parametrize(("fmt", "text", "field"), [
    pytest.param(JsonlFormat(), '\ufeff{"text": "a"}\r\n\r\n  {"text" :"b" }  \r\n{"text": " "}', None, id="jsonl-odd"),
    pytest.param(JsonlFormat(), '{"meta.title": "dotted key", "meta": {"title": "x"}}\n', "meta.title",
                 id="jsonl-dotted-key-wins"),
    pytest.param(TsvFormat(), "\ufeffsource\tx\r\na\t1\r\n\r\n b \t2", None, id="tsv-bom-crlf-blank"),
    pytest.param(TsvFormat(), "only\ncolumn\n", None, id="tsv-one-column"),
    pytest.param(TsvFormat(), "", None, id="tsv-empty"),
])
def test_identity_hand_cases(fmt: JsonlFormat | TsvFormat, text: str, field: str | None) -> None:
    options = FormatOptions(field=field)
    document = fmt.read(text.encode(), "data", options)
    assert fmt.write(document, identity(document), options) == text


def test_jsonl_translates_the_field_and_keeps_the_rest() -> None:
    data = (DATA / "data.jsonl").read_text("utf-8")
    document = JsonlFormat().read(data.encode(), "data.jsonl", OPTIONS)
    assert [u.where for u in document.units] == ["line 1", "line 2", "line 3", "line 6"]  # line 5's text is ""
    assert document.units[3].text == "Naïve résumé, ASCII-escaped."
    out = JsonlFormat().write(document, upper(document.units), OPTIONS)
    before = [json.loads(line) for line in data.splitlines() if line]
    after = [json.loads(line) for line in out.splitlines() if line]
    assert [r["text"] for r in after] == [r["text"].upper() for r in before]
    assert [{k: v for k, v in r.items() if k != "text"} for r in after] == [
        {k: v for k, v in r.items() if k != "text"} for r in before]
    assert [list(r) for r in after] == [list(r) for r in before]  # key order
    lines = out.split("\n")
    assert lines[1].startswith('{"id":2,"text":"CAFÉ')  # compact stays compact, no \u escapes
    assert lines[3:5] == data.split("\n")[3:5]  # the blank line and the record with an empty text
    assert "NAÏVE RÉSUMÉ" in lines[5]


def test_jsonl_dotted_field_path() -> None:
    data = (DATA / "data.jsonl").read_bytes()
    options = FormatOptions(field="meta.title")
    document = JsonlFormat().read(data, "data.jsonl", options)
    assert [u.text for u in document.units] == ["Agenda", "Prices", "Quotes", "Empty text", "Escapes"]
    out = JsonlFormat().write(document, [Unit("T" + str(n)) for n in range(5)], options)
    records = [json.loads(line) for line in out.splitlines() if line]
    assert [r["meta"]["title"] for r in records] == ["T0", "T1", "T2", "T3", "T4"]
    assert records[0]["text"] == "The meeting starts at 10:00."


def test_tsv_translates_the_source_column_and_keeps_the_rest() -> None:
    data = (DATA / "data.tsv").read_text("utf-8")
    document = TsvFormat().read(data.encode(), "data.tsv", OPTIONS)
    assert [u.text for u in document.units] == [
        "Good morning, everyone.", 'The "best" café in town.', "Prices rose by 5%."]
    out = TsvFormat().write(document, upper(document.units), OPTIONS)
    before = list(csv.reader(io.StringIO(data), delimiter="\t", quoting=csv.QUOTE_NONE))
    after = list(csv.reader(io.StringIO(out), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert [[r[0], r[2]] for r in after] == [[r[0], r[2]] for r in before]
    assert [r[1] for r in after] == ["source"] + [r[1].upper() for r in before[1:]]


def test_tsv_translation_with_tabs_and_newlines_keeps_the_row() -> None:
    document = TsvFormat().read(b"text\tid\nhello\t1\n", "data.tsv", OPTIONS)
    out = TsvFormat().write(document, [Unit("ol\ta\nmundo")], OPTIONS)
    assert out == "text\tid\nol a mundo\t1\n"


@pytest.mark.parametrize(("text", "field", "expected"), [
    pytest.param("id\tsource\n1\tHi\n", None, ["Hi"], id="default-source"),
    pytest.param("Text\tid\nHi\t1\n", None, ["Hi"], id="default-text-any-case"),
    pytest.param("a\tb\nc\td\n", "2", ["b", "d"], id="number-means-no-header"),
    pytest.param("a\tb\nc\td\n", "b", ["d"], id="name-means-header"),
    pytest.param("one\ntwo\n", None, ["one", "two"], id="one-column-no-header"),
])
def test_tsv_column_choice(text: str, field: str | None, expected: list[str]) -> None:
    document = TsvFormat().read(text.encode(), "data.tsv", FormatOptions(field=field))
    assert [u.text for u in document.units] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(), st.text(), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
                max_size=8))
def test_jsonl_round_trip_property(records: list[tuple[int, str, dict[str, int]]]) -> None:
    text = "".join(json.dumps({"id": i, "text": t, "extra": e}, ensure_ascii=bool(i % 2)) + "\n" for i, t, e in records)
    document = JsonlFormat().read(text.encode(), "data.jsonl", OPTIONS)
    assert JsonlFormat().write(document, identity(document), OPTIONS) == text
    out = JsonlFormat().write(document, [Unit(u.text + "!") for u in document.units], OPTIONS)
    after = [json.loads(line) for line in out.split("\n") if line]  # not splitlines(): "\x85" is in strings
    assert [(r["id"], r["extra"]) for r in after] == [(i, e) for i, _, e in records]
    assert [r["text"] for r in after] == [t + "!" if t.strip() else t for _, t, _ in records]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(exclude_characters="\t\r\n", exclude_categories=["Cs"]),
                                 max_size=6), min_size=2, max_size=2), max_size=8))
def test_tsv_round_trip_property(rows: list[list[str]]) -> None:
    text = "".join("\t".join(row) + "\n" for row in [["text", "other"], *rows])
    document = TsvFormat().read(text.encode(), "data.tsv", OPTIONS)
    assert TsvFormat().write(document, identity(document), OPTIONS) == text


@pytest.mark.parametrize(("fmt", "data", "field", "message"), [
    pytest.param(JsonlFormat(), '{"text": "a"}\n' * 6 + '{"text": oops}\n', None,
                 r"^data\.jsonl:7: not JSON: Expecting value \(column 10\)$", id="jsonl-not-json"),
    pytest.param(JsonlFormat(), '{"text": "a"}\n{"text": "b"}\n{"id": 3, "body": "c"}\n', None,
                 r"^data\.jsonl:3: no field 'text' \(has: id, body\)$", id="jsonl-no-field"),
    pytest.param(JsonlFormat(), '{"text": 12}\n', None, r"^data\.jsonl:1: field 'text' is a number, not a string$",
                 id="jsonl-number"),
    pytest.param(JsonlFormat(), '{"meta": {"title": null}}\n', "meta.title",
                 r"^data\.jsonl:1: field 'meta.title' is null, not a string$", id="jsonl-null-dotted"),
    pytest.param(JsonlFormat(), '["text"]\n', None, r"^data\.jsonl:1: not a JSON object but a list$",
                 id="jsonl-list"),
    pytest.param(JsonlFormat(), b'{"text": "caf\xe9"}\n', None, r"^data\.jsonl:1:14: not UTF-8 \(byte 0xe9\)$",
                 id="jsonl-not-utf8"),
    pytest.param(TsvFormat(), "id\ttext\tnote\tx\n1\ta\tb\tc\n2\ta\tb\tc\n3\ta\tb\tc\n4\ta\tb\n", None,
                 r"^data\.tsv:5: 3 columns, the header has 4$", id="tsv-columns"),
    pytest.param(TsvFormat(), "a\tb\na\tb\tc\n", "1", r"^data\.tsv:2: 3 columns, line 1 has 2$",
                 id="tsv-columns-no-header"),
    pytest.param(TsvFormat(), "id\tbody\n1\tx\n", None,
                 r"^data\.tsv:1: which column to translate\? the first row has no 'text' or 'source' column "
                 r"\(has: 'id', 'body'\)$", id="tsv-ambiguous"),
    pytest.param(TsvFormat(), "source\ttext\nx\ty\n", None,
                 r"^data\.tsv:1: which column to translate\? the first row has more than one 'text' or 'source' "
                 r"column", id="tsv-both-defaults"),
    pytest.param(TsvFormat(), "id\tbody\n1\tx\n", "text",
                 r"^data\.tsv:1: no column named 'text' in the header \(has: 'id', 'body'\)$", id="tsv-no-name"),
    pytest.param(TsvFormat(), "id\tbody\n1\tx\n", "3", r"^data\.tsv: no column 3 \(line 1 has 2 columns\)$",
                 id="tsv-number-too-big"),
])
def test_errors(fmt: JsonlFormat | TsvFormat, data: str | bytes, field: str | None, message: str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()
    name = "data.jsonl" if isinstance(fmt, JsonlFormat) else "data.tsv"
    with pytest.raises(InputError, match=message):
        fmt.read(raw, name, FormatOptions(field=field))


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("data.jsonl", "jsonl", id="jsonl"),
    pytest.param("corpus/train.TSV", "tsv", id="tsv"),
])
def test_format_picked_by_extension(path: str, expected: str) -> None:
    assert format_for(path) == expected
    assert get_format(expected).name == expected
