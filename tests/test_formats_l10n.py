"""XLIFF 1.2/2.0, PO and TMX (pipeline.formats.l10n): untranslated messages in, filled targets out.

translate-toolkit, the library the formats read with, is also the oracle: every written file is parsed
again with its XLIFF, PO and TMX stores. A written file cannot equal its input (its targets are filled),
so the round trip here is: read back, each filled target equals its source, with the same inline elements,
and everything else equals the input after parsing; a file with nothing to translate comes back byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from translate.storage import pypo, tmx, xliff, xliff2

from pipeline.errors import InputError
from pipeline.formats import FormatOptions, Tag, Unit, format_for, get_format, identity, render_document
from pipeline.formats.l10n import PoFormat, TmxFormat, XliffFormat, placeholder_tags

DATA = Path(__file__).parent / "data" / "formats"
OPTIONS = FormatOptions(src_lang="en", tgt_lang="pt")
X12 = "urn:oasis:names:tc:xliff:document:1.2"
X20 = "urn:oasis:names:tc:xliff:document:2.0"
XLIFF_HEAD = f'<xliff xmlns="{X12}" version="1.2"><file original="a" source-language="en" datatype="x"><body>'


def upper(units: list[Unit]) -> list[Unit]:
    """A translation that changes every letter and keeps the tags where they were."""
    return [Unit(unit.text.upper(), unit.tags, unit.where) for unit in units]


def shifted_without_last_tag(units: list[Unit]) -> list[Unit]:
    """A translation that moves every tag two characters on and drops the last one."""
    return [Unit("¡ " + unit.text, tuple(Tag(t.start + 2, t.end + 2, t.id, t.kind) for t in unit.tags[:-1]),
                 unit.where) for unit in units]


def inline(element: etree._Element) -> list[str]:
    """An element's inline children, serialised with their tails, without namespace declarations."""
    return [re.sub(r' xmlns(:\w+)?="[^"]*"', "", etree.tostring(child, encoding="unicode")) for child in element]


def canonical(root: etree._Element) -> bytes:
    """``root`` in canonical XML with layout white space (white space only text between elements) left out."""
    root = etree.fromstring(etree.tostring(root))
    for node in root.iter():
        if node.text is not None and not node.text.strip() and len(node):
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(root, method="c14n")


def read(fmt, data: bytes, name: str = "file", options: FormatOptions = OPTIONS):
    return fmt.read(data, name, options)


# ---------------------------------------------------------------------------------------------------------------
# placeholders


@pytest.mark.parametrize(("text", "found"), [
    pytest.param("Open %s now", ["%s"], id="printf-s"),
    pytest.param("%1$d of %2$d", ["%1$d", "%2$d"], id="positional"),
    pytest.param("Hello %(name)s!", ["%(name)s"], id="python-named"),
    pytest.param("%.2f%% done", ["%.2f", "%%"], id="precision-and-percent"),
    pytest.param("Hi {name}, {0} and {}", ["{name}", "{0}", "{}"], id="braces"),
    pytest.param("You have {{count}} tasks", ["{{count}}"], id="double-braces"),
    pytest.param("Value {x:>10} for ${user}", ["{x:>10}", "${user}"], id="format-spec-and-dollar"),
    pytest.param("100% done, 50 % off", [], id="percent-in-prose"),
    pytest.param("{# item} and { spaced }", [], id="not-placeholders"),
])
def test_placeholder_tags_finds_placeholders(text: str, found: list[str]) -> None:
    tags = placeholder_tags(text)
    assert [text[t.start:t.end] for t in tags] == found
    assert all(t.kind == "keep" for t in tags)
    assert [t.id for t in tags] == list(range(len(found)))


def test_placeholder_tags_offsets_and_ids() -> None:
    assert placeholder_tags("a %s", start_id=5, offset=10) == [Tag(12, 14, 5, "keep")]


# ---------------------------------------------------------------------------------------------------------------
# registry


@pytest.mark.parametrize(("path", "name", "cls"), [
    pytest.param("strings.xlf", "xliff", XliffFormat, id="xlf"),
    pytest.param("App.XLIFF", "xliff", XliffFormat, id="xliff-upper-case"),
    pytest.param("messages.po", "po", PoFormat, id="po"),
    pytest.param("messages.pot", "po", PoFormat, id="pot"),
    pytest.param("memory.tmx", "tmx", TmxFormat, id="tmx"),
])
def test_format_picked_by_extension(path: str, name: str, cls: type) -> None:
    assert format_for(path) == name
    fmt = get_format(name)
    assert isinstance(fmt, cls)
    assert fmt.name == name and not fmt.binary
    assert Path(path).suffix.lower() in fmt.extensions


# ---------------------------------------------------------------------------------------------------------------
# XLIFF 1.2


def test_xliff12_units_are_the_untranslated_trans_units() -> None:
    doc = read(XliffFormat(), (DATA / "strings.xlf").read_bytes(), "strings.xlf")
    assert doc.format == "xliff"
    assert [u.text for u in doc.units] == [
        "Welcome to mtpipe!",
        "Click here now to open %s.",
        "First linesecond line for {name}.",
        "Press Save before %1$d minutes pass.",  # <bpt>/<ept> hold markup, not words: the model never sees it
        "You have {{count}} new messages.",
        "Try again",  # an empty <target> is a unit; "done" (translated) and "brand" (translate="no") are not
    ]
    opening = doc.units[1]
    assert opening.tags == (Tag(6, 14, 0, "pair"), Tag(11, 14, 1, "pair"), Tag(23, 25, 2, "keep"))
    assert doc.units[2].tags == (Tag(10, 10, 0, "empty"), Tag(26, 32, 1, "keep"))
    bold = doc.units[3]
    assert [(bold.text[t.start:t.end], t.start, t.kind) for t in bold.tags] == [
        ("", 6, "empty"), ("", 10, "empty"), ("%1$d", 18, "keep")]
    assert doc.units[4].tags == (Tag(9, 18, 0, "keep"),)
    assert opening.where == "line 9, trans-unit 'open'"


def test_xliff12_identity_round_trip() -> None:
    """Read back with translate-toolkit: each filled target is its source, inline elements and all; the rest
    of the file equals the input after parsing (lxml writes it, so not byte for byte: the targets are new)."""
    data = (DATA / "strings.xlf").read_bytes()
    doc = read(XliffFormat(), data, "strings.xlf")
    out = render_document(doc, identity(doc), OPTIONS)
    store = xliff.Xliff1File.parsestring(out)
    before = {u.getid(): u for u in xliff.Xliff1File.parsestring(data).units}
    filled = 0
    for unit in store.units:
        target = unit.target_dom
        old = before[unit.getid()]
        if old.target_dom is not None and old.target:  # translated before: untouched
            assert etree.tostring(target) == etree.tostring(old.target_dom)
            continue
        if not unit.istranslatable():
            assert target is None
            continue
        filled += 1
        assert unit.target == unit.source
        assert inline(target) == inline(unit.source_dom)
        assert target.get("state") == "needs-review-translation"
        assert target.get("state-qualifier") == "mt-suggestion"
        assert unit.getnotes() == old.getnotes()
    assert filled == len(doc.units) == 6
    assert store.gettargetlanguage() == "pt"
    assert read(XliffFormat(), out).units == []  # nothing left to translate
    # everything else is as it was
    root = etree.fromstring(out)
    for target in root.iter(f"{{{X12}}}target"):
        if target.get("state-qualifier") == "mt-suggestion":
            if target.getparent().get("id") == "retry":  # it was <target state="new"></target>
                target.text, target.attrib["state"] = None, "new"
                del target.attrib["state-qualifier"]
            else:
                target.getparent().remove(target)
    del root.find(f"{{{X12}}}file").attrib["target-language"]
    assert canonical(root) == canonical(etree.fromstring(data))


def test_xliff12_changed_text_and_tags_kept() -> None:
    data = (DATA / "strings.xlf").read_bytes()
    doc = read(XliffFormat(), data)
    out = render_document(doc, upper(doc.units), OPTIONS)
    store = xliff.Xliff1File.parsestring(out)
    units = {u.getid().split("\x04")[1]: u for u in store.units}
    assert len(store.units) == 8
    opening = units["open"]
    assert opening.target == "CLICK HERE NOW TO OPEN %s."
    assert inline(opening.target_dom) == ['<g id="1">HERE <g id="2">NOW</g></g> TO OPEN ', '<ph id="3">%s</ph>.']
    assert units["lines"].target == "FIRST LINESECOND LINE FOR {name}."  # the keep tag wrote the source's text
    assert units["bold"].target == "PRESS <b>SAVE</b> BEFORE %1$d MINUTES PASS."
    assert units["done"].target == "Cancelar"
    assert units["welcome"].getnotes() == "The start page's heading."


def test_xliff12_moved_and_dropped_tags() -> None:
    data = (DATA / "strings.xlf").read_bytes()
    doc = read(XliffFormat(), data)
    out = render_document(doc, shifted_without_last_tag(doc.units), OPTIONS)
    units = {u.getid().split("\x04")[1]: u for u in xliff.Xliff1File.parsestring(out).units}
    # "open" had <g 1>, <g 2> and <ph 3>: <ph> dropped (its text stays as text), the <g>s two characters on
    assert units["open"].target_dom.text == "¡ Click "
    assert inline(units["open"].target_dom) == ['<g id="1">here <g id="2">now</g></g> to open %s.']
    assert units["welcome"].target == "¡ Welcome to mtpipe!"
    assert [c.tag for c in units["welcome"].target_dom] == []  # its only tag was dropped


def test_xliff12_tag_moved_to_other_words() -> None:
    doc = read(XliffFormat(), (DATA / "strings.xlf").read_bytes())
    translations = list(doc.units)
    translations[0] = Unit("mtpipe dá as boas-vindas!", (Tag(0, 6, 0, "pair"),))
    translations[1] = Unit("Abra %s: clique aqui já.", (Tag(5, 7, 2, "keep"), Tag(9, 23, 0, "pair"),
                                                       Tag(22, 23, 1, "pair")))
    out = XliffFormat().write(doc, translations, OPTIONS)
    units = {u.getid().split("\x04")[1]: u for u in xliff.Xliff1File.parsestring(out).units}
    assert inline(units["welcome"].target_dom) == ['<g id="1">mtpipe</g> dá as boas-vindas!']
    assert units["open"].target_dom.text == "Abra "
    assert inline(units["open"].target_dom) == [
        '<ph id="3">%s</ph>: ', '<g id="1">clique aqui j<g id="2">á</g></g>.']


def test_xliff_writing_twice_gives_the_same_file() -> None:
    doc = read(XliffFormat(), (DATA / "strings.xlf").read_bytes())
    first = XliffFormat().write(doc, upper(doc.units), OPTIONS)
    assert XliffFormat().write(doc, upper(doc.units), OPTIONS) == first
    assert XliffFormat().write(doc, identity(doc), OPTIONS) != first


XLIFF_DONE = (b"<?xml version='1.0' encoding='utf-8'?>\n<!-- kept -->\n"
              b"<xliff xmlns='urn:oasis:names:tc:xliff:document:1.2' version='1.2'>\n"
              b"<file original='a' source-language='en' target-language='pt' datatype='plaintext'><body>\n"
              b"  <trans-unit id='1' ><source>Caf&#233; <x id='1' /></source><target>Caf\xc3\xa9<x id='1'/></target>"
              b"</trans-unit>\n  <trans-unit id='2' translate='no'><source>mtpipe</source></trans-unit>\n"
              b"</body></file>\n</xliff>\n<!-- end -->\n")


@pytest.mark.parametrize(("fmt", "data"), [
    pytest.param(XliffFormat(), XLIFF_DONE, id="xliff-1.2"),
    pytest.param(XliffFormat(), f"<xliff xmlns='{X20}' version='2.0' srcLang='en' trgLang='pt'><file id='f'>"
                 "<unit id='u'><segment><source>A</source><target>B</target></segment></unit>"
                 "<unit id='v'><segment><source> </source></segment></unit></file></xliff>".encode(),
                 id="xliff-2.0"),
    pytest.param(PoFormat(), b'# comment\nmsgid ""\nmsgstr "Language: pt\\n"\n\n#, fuzzy\nmsgid "A"\n'
                 b'msgstr   "B"\n\n#~ msgid "C"\n#~ msgstr ""\n', id="po"),
    pytest.param(TmxFormat(), b"<tmx version='1.4'><header srclang='en'/><body>\n<tu><tuv xml:lang='EN-us'>"
                 b"<seg>A &amp; B</seg></tuv><tuv xml:lang='pt-BR'><seg>A e B</seg></tuv></tu></body></tmx>",
                 id="tmx"),
])
def test_nothing_to_translate_comes_back_byte_for_byte(fmt, data: bytes) -> None:
    doc = read(fmt, data)
    assert doc.units == []
    assert render_document(doc, [], OPTIONS) == data


def test_xliff_white_space_collapses_unless_preserved() -> None:
    data = (f'<xliff xmlns="{X12}" version="1.2"><file original="a" source-language="en" datatype="x"><body>'
            '<trans-unit id="1"><source>\n   Two\n   lines <g id="1"> in  bold </g>\n</source></trans-unit>'
            '<trans-unit id="2" xml:space="preserve"><source> Kept\n  as is </source></trans-unit>'
            '<trans-unit id="3"><source>   </source></trans-unit>'
            "</body></file></xliff>").encode()
    doc = read(XliffFormat(), data)
    assert [u.text for u in doc.units] == ["Two lines in bold", " Kept\n  as is "]
    assert doc.units[0].tags == (Tag(10, 17, 0, "pair"),)
    out = render_document(doc, identity(doc), OPTIONS)
    store = xliff.Xliff1File.parsestring(out)
    assert [u.target for u in store.units[:2]] == [u.source for u in store.units[:2]]


def test_xliff_keep_tags_write_their_source_and_stray_tags_are_ignored() -> None:
    data = (f'<xliff xmlns="{X12}" version="1.2"><file original="a" source-language="en" datatype="x"><body>'
            '<trans-unit id="1"><source>Open <ph id="1">&lt;a&gt;</ph> %s <g id="2">now</g></source></trans-unit>'
            "</body></file></xliff>").encode()
    doc = read(XliffFormat(), data)
    assert doc.units[0].text == "Open <a> %s now"
    # the keep spans changed, one tag id is unknown, and the pair overlaps the keep tag
    translation = Unit("Abre XXX %d agora", (Tag(5, 8, 0, "keep"), Tag(9, 11, 1, "keep"), Tag(2, 12, 2, "pair"),
                                             Tag(0, 0, 99, "empty")))
    out = XliffFormat().write(doc, [translation], OPTIONS)
    target = etree.fromstring(out.encode()).find(f".//{{{X12}}}target")
    assert etree.tostring(target, encoding="unicode", with_tail=False).split(">", 1)[1] == (
        'Ab<g id="2">re <ph id="1">&lt;a&gt;</ph> %s </g>agora</target>')


@pytest.mark.parametrize(("translation", "target"), [
    pytest.param(Unit("Abre agora", (Tag(4, 4, 2, "pair"),)), 'Abre<g id="2"/> agora', id="pair-over-nothing"),
    pytest.param(Unit("Abre agora", (Tag(8, 3, 2, "pair"),)), 'Abre ago<g id="2"/>ra',
                 id="pair-ending-before-it-starts"),
    pytest.param(Unit("Abre", (Tag(2, 40, 2, "pair"), Tag(50, 60, 1, "keep"))),
                 'Ab<g id="2">re</g>%s', id="tags-past-the-end"),  # tag 1 is the %s
    pytest.param(Unit("Abre %s agora", (Tag(0, 4, 0, "pair"), Tag(5, 7, 1, "empty"), Tag(8, 13, 2, "keep"))),
                 '<ph id="1">&lt;a&gt;</ph> %s <g id="2">agora</g>', id="kinds-changed"),  # 0 <ph>, 1 %s, 2 <g>
    pytest.param(Unit("Abre", (Tag(0, 3, 2, "pair"), Tag(2, 4, 2, "pair"))), '<g id="2">Ab<g id="2">r</g>e</g>',
                 id="same-id-twice"),
])
def test_xliff_odd_translations_never_crash(translation: Unit, target: str) -> None:
    """Tags act as their source tags did (pair, keep or empty), whatever kind the translation gives them."""
    data = (XLIFF_HEAD + '<trans-unit id="1"><source>Open <ph id="1">&lt;a&gt;</ph> %s <g id="2">now</g></source>'
            "</trans-unit></body></file></xliff>").encode()
    doc = read(XliffFormat(), data)
    out = XliffFormat().write(doc, [translation], OPTIONS)
    element = xliff.Xliff1File.parsestring(out.encode()).units[0].target_dom
    assert etree.tostring(element, encoding="unicode", with_tail=False).split(">", 1)[1] == target + "</target>"


def test_xliff_non_utf8_file_is_written_as_utf8() -> None:
    data = (f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<xliff xmlns="{X12}" version="1.2">'
            '<file original="a" source-language="en" datatype="x"><body><trans-unit id="1"><source>Caf\xe9</source>'
            "</trans-unit></body></file></xliff>\n").encode("latin-1")
    doc = read(XliffFormat(), data)
    assert doc.units[0].text == "Café"
    out = render_document(doc, [Unit("Café ☕")], OPTIONS)
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert xliff.Xliff1File.parsestring(out).units[0].target == "Café ☕"


def test_xliff_keeps_a_byte_order_mark() -> None:
    data = b"\xef\xbb\xbf" + (XLIFF_HEAD + '<trans-unit id="1"><source>A</source></trans-unit></body></file></xliff>'
                               ).encode()
    doc = read(XliffFormat(), data)
    out = render_document(doc, identity(doc), OPTIONS)
    assert out.startswith(b"\xef\xbb\xbf<xliff")


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff") | st.just("\n"),
               min_size=1, max_size=40).filter(lambda text: text.strip()))
@settings(max_examples=60, deadline=None)
def test_xliff_any_text_round_trips(text: str) -> None:
    source = etree.Element(f"{{{X12}}}source")
    source.text = text
    data = (f'<xliff xmlns="{X12}" version="1.2"><file original="a" source-language="en" datatype="x"><body>'
            f'<trans-unit id="1" xml:space="preserve">{etree.tostring(source, encoding="unicode")}</trans-unit>'
            "</body></file></xliff>").encode()
    doc = read(XliffFormat(), data)
    out = render_document(doc, identity(doc), OPTIONS)
    unit = xliff.Xliff1File.parsestring(out).units[0]
    assert unit.target == unit.source == text


# ---------------------------------------------------------------------------------------------------------------
# XLIFF 2.0


def test_xliff20_units_and_round_trip() -> None:
    """Equal after parsing, as for 1.2; the state goes on <segment>, as 2.0 wants."""
    data = (DATA / "strings20.xlf").read_bytes()
    doc = read(XliffFormat(), data, "strings20.xlf")
    assert [u.text for u in doc.units] == [
        "Welcome to mtpipe!", "Click here now to open %s.", "First linesecond line for {name}.",
        "Press Save before %1$d minutes pass."]
    assert doc.units[1].tags == (Tag(6, 14, 0, "pair"), Tag(11, 14, 1, "pair"), Tag(23, 25, 2, "keep"))
    assert doc.units[3].tags == (Tag(6, 6, 0, "empty"), Tag(10, 10, 1, "empty"), Tag(18, 22, 2, "keep"))
    assert doc.units[0].where == "line 8, unit 'welcome'"
    out = render_document(doc, identity(doc), OPTIONS)
    store = xliff2.Xliff2File.parsestring(out)
    assert store.gettargetlanguage() == "pt"
    for unit in store.units:
        segment = unit.xmlelement
        if unit.getid() == "done":
            assert segment.get("subState") is None and unit.target == "Cancelar"
        else:
            assert unit.target == unit.source
            assert inline(unit.target_dom) == inline(unit.source_dom)
            assert (segment.get("state"), segment.get("subState")) == ("translated", "mtpipe:machine-translated")
    assert store.units[0].getnotes() == ""  # unit-level notes: translate-toolkit reads segment ones only
    root = etree.fromstring(out)
    assert root.find(f".//{{{X20}}}unit/{{{X20}}}notes/{{{X20}}}note").text == "The start page's heading."
    for segment in root.iter(f"{{{X20}}}segment"):
        if segment.get("subState"):
            segment.remove(segment.find(f"{{{X20}}}target"))
            del segment.attrib["state"], segment.attrib["subState"]
    del root.attrib["trgLang"]
    assert canonical(root) == canonical(etree.fromstring(data))


def test_xliff20_changed_text() -> None:
    doc = read(XliffFormat(), (DATA / "strings20.xlf").read_bytes())
    out = render_document(doc, upper(doc.units), OPTIONS)
    units = xliff2.Xliff2File.parsestring(out).units
    assert len(units) == 5
    assert inline(units[3].target_dom) == ['<sc id="1"/>SAVE', '<ec startRef="1"/> BEFORE %1$d MINUTES PASS.']
    assert inline(units[1].target_dom) == ['<pc id="1">HERE <pc id="2">NOW</pc></pc> TO OPEN ',
                                           '<ph id="3" equiv="%s"/>.']


# ---------------------------------------------------------------------------------------------------------------
# PO


def test_po_units_are_the_empty_messages() -> None:
    doc = read(PoFormat(), (DATA / "messages.po").read_bytes(), "messages.po")
    assert doc.format == "po"
    assert [u.text for u in doc.units] == [
        "Hello %(name)s, welcome back!", "%d file was removed.", "%d files were removed.", "Open",
        "{count} new messages in {folder}", "You have {{count}} tasks and 100% done."]
    assert doc.units[0].tags == (Tag(6, 14, 0, "keep"),)
    assert doc.units[4].tags == (Tag(0, 7, 0, "keep"), Tag(24, 32, 1, "keep"))
    assert doc.units[3].where == "line 34, msgctxt 'verb' msgid 'Open'"
    assert doc.units[2].where.endswith("(plural)")


def test_po_identity_round_trip() -> None:
    """Read back with translate-toolkit: each filled message is its msgid, fuzzy, with its flags, context and
    comments; every other message, and the header but for Language, is written as it was."""
    data = (DATA / "messages.po").read_bytes()
    doc = read(PoFormat(), data)
    out = render_document(doc, identity(doc), OPTIONS)
    old, new = pypo.pofile(), pypo.pofile()
    old.parse(data)
    new.parse(out)
    assert len(old.units) == len(new.units)
    filled = 0
    for before, after in zip(old.units, new.units, strict=True):
        assert (after.source, after.getcontext(), after.getlocations(), after.getnotes(), after.isobsolete()) == (
            before.source, before.getcontext(), before.getlocations(), before.getnotes(), before.isobsolete())
        if before.isheader():
            assert new.parseheader() == {**old.parseheader(), "Language": "pt"}
        elif before.target or before.isobsolete():
            assert str(after) == str(before)
        else:
            filled += 1
            assert after.target == after.source
            assert after.isfuzzy()
            assert after.typecomments[0].startswith("#, fuzzy")
            assert set(before.typecomments[0][2:].strip().split(", ") if before.typecomments else []) <= set(
                after.typecomments[0][2:].strip().split(", "))
    assert filled == 5
    plural = new.units[2]
    assert plural.target.strings == ["%d file was removed.", "%d files were removed."]
    assert "python-format" in plural.typecomments[0]
    assert read(PoFormat(), out).units == []


def test_po_changed_text_keeps_placeholders() -> None:
    doc = read(PoFormat(), (DATA / "messages.po").read_bytes())
    translations = upper(doc.units)
    translations[4] = Unit("{contagem} novas em {folder}", (Tag(0, 10, 0, "keep"), Tag(20, 28, 1, "keep")))
    out = render_document(doc, translations, OPTIONS)
    store = pypo.pofile()
    store.parse(out)
    assert store.units[1].target == "HELLO %(name)s, WELCOME BACK!"
    assert store.units[5].target == "{count} novas em {folder}"  # the keep span wrote its source's text
    assert store.units[3].target == "Abrir"


def test_po_plural_forms_follow_the_header() -> None:
    data = (b'msgid ""\nmsgstr ""\n"Language: pl\\n"\n"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : 1);\\n"\n\n'
            b'msgid "%d file"\nmsgid_plural "%d files"\nmsgstr[0] ""\nmsgstr[1] ""\n')
    doc = read(PoFormat(), data)
    out = render_document(doc, [Unit("%d plik"), Unit("%d plików")], FormatOptions(tgt_lang="pl"))
    store = pypo.pofile()
    store.parse(out)
    assert store.units[1].target.strings == ["%d plik", "%d plików", "%d plików"]


def test_pot_gets_a_language_and_utf8() -> None:
    data = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=CHARSET\\n"\n"Language: \\n"\n\n'
            'msgid "Café"\nmsgstr ""\n').encode()
    doc = read(PoFormat(), data, "app.pot")
    out = render_document(doc, [Unit("Café ☕")], OPTIONS)
    store = pypo.pofile()
    store.parse(out)
    assert store.parseheader()["Language"] == "pt"
    assert "charset=UTF-8" in store.parseheader()["Content-Type"]
    assert store.units[1].target == "Café ☕"


@given(st.lists(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(["%s", "{n}", "\n", '"', "\\"]),
                min_size=1, max_size=30).map("".join).filter(lambda text: text.strip()))
@settings(max_examples=60, deadline=None)
def test_po_any_text_round_trips(text: str) -> None:
    store = pypo.pofile()
    store.addsourceunit(text)
    doc = read(PoFormat(), bytes(store))
    assert [u.text for u in doc.units] == [text]
    out = render_document(doc, identity(doc), OPTIONS)
    again = pypo.pofile()
    again.parse(out)
    assert again.units[-1].target == text


# ---------------------------------------------------------------------------------------------------------------
# TMX


def test_tmx_units_are_source_variants_without_a_target() -> None:
    doc = read(TmxFormat(), (DATA / "memory.tmx").read_bytes(), "memory.tmx")
    assert doc.format == "tmx"
    assert [u.text for u in doc.units] == [
        "Save the file", "Press Save now, %s files left.", "You have %d new messages."]
    assert [(t.kind, t.start, doc.units[1].text[t.start:t.end]) for t in doc.units[1].tags] == [
        ("empty", 6, ""), ("empty", 10, ""), ("keep", 16, "%s")]
    assert doc.units[1].where == "line 23, tu 'press-save'"


def test_tmx_identity_round_trip() -> None:
    """Equal after parsing: each untranslated <tu> gains a Portuguese <tuv> equal to its source one."""
    data = (DATA / "memory.tmx").read_bytes()
    doc = read(TmxFormat(), data)
    out = render_document(doc, identity(doc), OPTIONS)
    store = tmx.tmxfile.parsestring(out)
    old = tmx.tmxfile.parsestring(data)
    assert len(store.units) == len(old.units) == 5
    added = 0
    for before, after in zip(old.units, store.units, strict=True):
        assert after.getnotes() == before.getnotes()
        new = [n for n in after.getlanguageNodes() if n.get("creationtool") == "mtpipe"]
        if new:
            added += 1
            source = after.getlanguageNodes()[0]
            assert new[0].get("{http://www.w3.org/XML/1998/namespace}lang") == "pt"
            assert new[0].find("prop").text == "machine-translated"
            assert inline(new[0].find("seg")) == inline(source.find("seg"))
            assert new[0].find("seg").text == source.find("seg").text
            assert after.gettarget("pt") == after.source
            after.xmlelement.remove(new[0])
        assert etree.tostring(after.xmlelement).split() == etree.tostring(before.xmlelement).split()
    assert added == 3
    assert read(TmxFormat(), out).units == []


def test_tmx_changed_text() -> None:
    doc = read(TmxFormat(), (DATA / "memory.tmx").read_bytes())
    out = render_document(doc, upper(doc.units), OPTIONS)
    store = tmx.tmxfile.parsestring(out)
    assert store.units[2].gettarget("pt") == "PRESS <b>SAVE</b> NOW, %s FILES LEFT."
    assert store.units[0].gettarget("pt") == "Bom dia"
    assert store.units[4].gettarget("pt") is None  # German only: not in the source language


@pytest.mark.parametrize(("languages", "tgt_lang", "units"), [
    pytest.param(("en-GB", "pt-PT"), "pt", 0, id="pt-covers-pt-PT"),
    pytest.param(("en-GB", "pt-PT"), "pt-BR", 1, id="pt-BR-is-not-pt-PT"),
    pytest.param(("EN", "pt"), "pt-BR", 1, id="pt-is-not-pt-BR"),
    pytest.param(("en_US", "de"), "pt", 1, id="underscore"),
])
def test_tmx_language_matching(languages: tuple[str, str], tgt_lang: str, units: int) -> None:
    source, target = languages
    data = (f"<tmx version='1.4'><header srclang='en'/><body><tu><tuv xml:lang='{source}'><seg>A</seg></tuv>"
            f"<tuv xml:lang='{target}'><seg>B</seg></tuv></tu></body></tmx>").encode()
    assert len(read(TmxFormat(), data, options=FormatOptions(src_lang="en", tgt_lang=tgt_lang)).units) == units


# ---------------------------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(("fmt", "name", "data", "message"), [
    pytest.param(XliffFormat(), "strings.xlf", b'<?xml version="1.0"?>\n<xliff>\n  <file><source>x</file>\n',
                 r"^strings\.xlf:3:25: malformed XML: Opening and ending tag mismatch: source line 3 and file$",
                 id="xliff-malformed"),
    pytest.param(XliffFormat(), "strings.xlf", b"", r"^strings\.xlf: empty file, not an XLIFF file$", id="xliff-empty"),
    pytest.param(XliffFormat(), "strings.xlf", b"<html>\n<body/></html>",
                 r"^strings\.xlf:1: not an XLIFF file \(the root element is <html>, not <xliff>\)$", id="xliff-root"),
    pytest.param(XliffFormat(), "strings.xlf", f'<xliff xmlns="{X12}" version="1.2"/>'.encode(),
                 r"^strings\.xlf: not a valid XLIFF 1\.x file: no <file>$", id="xliff-no-file"),
    pytest.param(XliffFormat(), "strings.xlf", (XLIFF_HEAD + '\n<trans-unit id="7"><target>x</target></trans-unit>'
                                                "</body></file></xliff>").encode(),
                 r"^strings\.xlf:2: line 2, trans-unit '7' has no <source>$", id="xliff-no-source"),
    pytest.param(XliffFormat(), "strings.xlf",
                 (XLIFF_HEAD.replace('datatype="x"', 'target-language="de" datatype="x"')
                  + '<trans-unit id="1"><source>A</source></trans-unit></body></file></xliff>').encode(),
                 r"^strings\.xlf:1: the file's target-language is 'de', not the target language 'pt'$",
                 id="xliff-other-target-language"),
    pytest.param(XliffFormat(), "strings.xlf",
                 f'<xliff xmlns="{X20}" version="2.0" srcLang="en" trgLang="fr"><file id="f"><unit id="u">'
                 "<segment><source>A</source></segment></unit></file></xliff>".encode(),
                 r"^strings\.xlf:1: the file's trgLang is 'fr', not the target language 'pt'$",
                 id="xliff20-other-target-language"),
    pytest.param(PoFormat(), "messages.po", b'msgid "a"\nmsgstr ""\n\nmsgid "b\nmsgstr ""\n',
                 r"""^messages\.po:4: PO syntax error: end-of-line within string: 'msgid "b'$""", id="po-unterminated"),
    pytest.param(PoFormat(), "messages.po", b'msgid "a"\nmsgstr ""\n\n\nhello world\n',
                 r"^messages\.po:5: PO syntax error: syntax error: 'hello world'$", id="po-stray-line"),
    pytest.param(PoFormat(), "messages.po", b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=FOO-9\\n"\n',
                 r"^messages\.po:3: PO syntax error: unsupported charset: FOO-9: .*charset=FOO-9", id="po-charset"),
    pytest.param(PoFormat(), "messages.po", b'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                 b'msgid "caf\xe9"\nmsgstr ""\n', r"^messages\.po:4:11: not UTF-8 \(byte 0xe9\)$", id="po-not-utf8"),
    pytest.param(TmxFormat(), "memory.tmx", b"<tmx version='1.4'><header/><body><tu>\n<tuv></tu></body></tmx>",
                 r"^memory\.tmx:2:11: malformed XML: Opening and ending tag mismatch: tuv line 2 and tu$",
                 id="tmx-malformed"),
    pytest.param(TmxFormat(), "memory.tmx", b"<tmx version='1.4'><header/></tmx>",
                 r"^memory\.tmx:1: not a TMX file: <tmx> has no <body>$", id="tmx-no-body"),
    pytest.param(TmxFormat(), "memory.tmx", b"<tmx version='1.4'><header srclang='de'/><body><tu><tuv xml:lang='de'>"
                 b"<seg>Hallo</seg></tuv><tuv xml:lang='fr'><seg>Salut</seg></tuv></tu></body></tmx>",
                 r"^memory\.tmx: no <tuv> in the source language 'en' \(the file has: de, fr\)$",
                 id="tmx-no-source-language"),
    pytest.param(TmxFormat(), "memory.tmx", b"<tmx version='1.4'><header/><body>\n<tu>\n<tuv xml:lang='en'/></tu>"
                 b"</body></tmx>", r"^memory\.tmx:3: line 2, tu 1: the <tuv> in 'en' has no <seg>$", id="tmx-no-seg"),
])
def test_bad_input_is_an_input_error(fmt, name: str, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fmt.read(data, name, OPTIONS)
