"""Word documents: a unit per paragraph, runs' formatting and hyperlinks as tags, rebuilt on the right words."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.formats import format_for, get_format, identity, render_document
from pipeline.formats.base import FormatOptions, Tag, Unit
from pipeline.formats.docx import DocxFormat

DATA = Path(__file__).parent / "data" / "formats"
OPTIONS = FormatOptions()
REPORT = (DATA / "report.docx").read_bytes()


def all_paragraphs(document: docx.document.Document) -> list:
    """Body paragraphs (tables included, in order), then each section's header and footer."""
    body = [docx.text.paragraph.Paragraph(p, document.part) for p in document.element.body.iter(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p")]
    section = document.sections[0]
    return body + section.header.paragraphs + section.footer.paragraphs


def formatting(paragraph) -> list[tuple[str, bool | None, bool | None, bool | None, str]]:
    """Each character of a paragraph with its bold, italic, underline and hyperlink address."""
    out = []
    for item in paragraph.iter_inner_content():
        runs = item.runs if isinstance(item, docx.text.hyperlink.Hyperlink) else [item]
        link = item.address if isinstance(item, docx.text.hyperlink.Hyperlink) else ""
        for run in runs:
            out += [(c, run.bold, run.italic, bool(run.underline), link) for c in run.text]
    return out


def parsed(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def test_identity_equals_the_input_after_parsing() -> None:
    """Byte identity is impossible for a zip archive rewritten by python-docx (entry times, compression),
    so the identity translation must give the same paragraphs and runs, and each part of the package
    exactly as python-docx itself writes it back (here: as it wrote the fixture)."""
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    out = render_document(document, identity(document), OPTIONS)
    before, after = parsed(REPORT), parsed(out)
    assert [[(r.text, r.bold, r.italic, r.underline) for r in p.runs] for p in all_paragraphs(after)] == [
        [(r.text, r.bold, r.italic, r.underline) for r in p.runs] for p in all_paragraphs(before)]
    reference = io.BytesIO()
    before.save(reference)
    ours, theirs = zipfile.ZipFile(io.BytesIO(out)), zipfile.ZipFile(reference)
    assert ours.namelist() == theirs.namelist()
    assert all(ours.read(n) == theirs.read(n) for n in ours.namelist())


def test_units_are_paragraphs_with_run_and_link_tags() -> None:
    document = get_format("docx").read(REPORT, "report.docx", OPTIONS)
    assert [u.where for u in document.units][-2:] == ["header 1, paragraph 1", "footer 1, paragraph 1"]
    assert "paragraph 5" not in [u.where for u in document.units]  # the empty paragraph
    second = document.units[1]
    assert second.text == "This year was very good for our customers, and even better for us."
    assert [second.text[t.start:t.end] for t in second.tags] == ["very", "our customers", "even better"]
    third = document.units[2]
    entry = document.data.entries[2]
    assert [(third.text[t.start:t.end], t.id in entry.links) for t in third.tags] == [
        ("our website", True), ("our website", False), ("unaudited", False), ("1", False)]
    tabs = document.units[3]
    assert tabs.text == "Revenue:12.5 millionCosts:8.1 million"
    assert [(t.start, t.kind) for t in tabs.tags] == [(8, "empty"), (20, "empty"), (26, "empty")]
    cell = next(u for u in document.units if u.text == "12% (best year)")
    assert cell.tags == (Tag(0, 3, 0),)


def test_upper_case_translation_keeps_structure_and_formatting() -> None:
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    out = DocxFormat().write(document, [Unit(u.text.upper(), u.tags, u.where) for u in document.units], OPTIONS)
    before, after = parsed(REPORT), parsed(out)
    assert len(all_paragraphs(after)) == len(all_paragraphs(before))
    assert [p.style.name for p in after.paragraphs] == [p.style.name for p in before.paragraphs]
    for old, new in zip(all_paragraphs(before), all_paragraphs(after), strict=True):
        assert formatting(new) == [(c.upper(), *rest) for c, *rest in formatting(old)]
    assert after.paragraphs[2].hyperlinks[0].address == "https://example.com/results"
    assert after.paragraphs[2].hyperlinks[0].text == "OUR WEBSITE"
    assert after.paragraphs[3].text == "REVENUE:\t12.5 MILLION\nCOSTS:\t8.1 MILLION"
    assert len(after.inline_shapes) == 1
    assert [[c.text for c in row.cells] for row in after.tables[0].rows] == [
        ["REGION", "GROWTH"], ["EUROPE", "12% (BEST YEAR)"]]
    assert after.sections[0].header.paragraphs[0].text == "ANNUAL REPORT — CONFIDENTIAL"


def test_moved_tags_put_bold_and_italic_on_the_right_words() -> None:
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    text = "Este ano foi muito bom para os nossos clientes, e ainda melhor para nós."
    ids = [t.id for t in document.units[1].tags]  # very, our customers, even better

    def span(words: str, tag_id: int) -> Tag:
        return Tag(text.index(words), text.index(words) + len(words), tag_id)

    translation = Unit(text, (span("muito", ids[0]), span("nossos clientes", ids[1]), span("ainda melhor", ids[2])))
    translations = list(document.units)
    translations[1] = translation
    after = parsed(DocxFormat().write(document, translations, OPTIONS))
    chars = formatting(after.paragraphs[1])
    assert "".join(c for c, *_ in chars) == text
    bold = "".join(c for c, b, *_ in chars if b)
    italic = "".join(c for c, _, i, *_ in chars if i)
    assert (bold, italic) == ("muitoainda melhor", "nossos clientesainda melhor")


def test_dropped_tags_lose_their_formatting_link_and_picture() -> None:
    """A dropped run tag leaves plain text; a dropped hyperlink tag, no link; a dropped picture, no picture."""
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    translations = list(document.units)
    link_para = document.units[2]
    kept = tuple(t for t in link_para.tags if link_para.text[t.start:t.end] == "unaudited")
    translations[2] = Unit(link_para.text, kept)
    picture = next(i for i, u in enumerate(document.units) if u.text.startswith("Our logo"))
    translations[picture] = Unit("O nosso logótipo, desde 1999.", (Tag(0, 3, 99),))  # an unknown id too
    after = parsed(DocxFormat().write(document, translations, OPTIONS))
    assert after.paragraphs[2].hyperlinks == []
    assert [(c, u) for c, _, _, u, _ in formatting(after.paragraphs[2]) if u] == [(c, True) for c in "unaudited"]
    assert len(after.inline_shapes) == 0
    assert "O nosso logótipo, desde 1999." in [p.text for p in after.paragraphs]


def test_translation_with_tabs_and_line_breaks_and_no_text() -> None:
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    translations = list(document.units)
    translations[0] = Unit("Relatório\tanual\n2024")
    translations[1] = Unit("")
    after = parsed(DocxFormat().write(document, translations, OPTIONS))
    assert after.paragraphs[0].text == "Relatório\tanual\n2024"
    assert after.paragraphs[0].style.name == "Heading 1"
    assert after.paragraphs[1].text == ""


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_subset_of_tags_at_any_places_gives_a_readable_file(data: st.DataObject) -> None:
    document = DocxFormat().read(REPORT, "report.docx", OPTIONS)
    translations = []
    for unit in document.units:
        text = data.draw(st.text(alphabet="ab \t", max_size=12))
        tags = []
        for tag in unit.tags:
            if data.draw(st.booleans()):
                start = data.draw(st.integers(0, len(text)))
                end = start if tag.kind == "empty" else data.draw(st.integers(start, len(text)))
                tags.append(Tag(start, end, tag.id, tag.kind))
        translations.append(Unit(text, tuple(tags)))
    after = parsed(DocxFormat().write(document, translations, OPTIONS))
    texts = [p.text.replace("\n", "").replace("\t", "") for p in all_paragraphs(after)]
    for unit in translations:
        assert unit.text.replace("\t", "") in texts


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(b"PK\x03\x04 not really", r"^report\.docx: not a DOCX file \(not a zip archive\)$", id="not-zip"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an old .doc",
                 r"^report\.docx: not a DOCX file \(not a zip archive\)$", id="old-doc"),
    pytest.param(_zip({"word/other.xml": b"<x/>"}),
                 r"^report\.docx: not a DOCX file \(the zip archive has no word/document\.xml\)$", id="no-document"),
    pytest.param(_zip({"word/document.xml": b"<w:document/>"}),
                 r"^report\.docx: not a DOCX file python-docx can read: KeyError: ", id="no-content-types"),
])
def test_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        DocxFormat().read(data, "report.docx", OPTIONS)


def test_format_picked_by_extension() -> None:
    assert format_for("reports/Q4.DOCX") == "docx"
    assert get_format("docx").binary is True
