"""The Markdown format: units, byte-for-byte identity, translated files that markdown-it-py reads back alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pipeline.errors import InputError
from pipeline.formats import format_for, get_format, identity, read_document, render_document
from pipeline.formats.base import FormatOptions, Tag, Unit
from pipeline.formats.markdown import MarkdownFormat

DATA = Path(__file__).parent / "data" / "formats"
FIXTURES = ["readme-section.md", "guide.md"]
OPTIONS = FormatOptions(src_lang="en", tgt_lang="pt")
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def read(text: str | bytes, name: str = "doc.md"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return MarkdownFormat().read(data, name, OPTIONS)


def write(document, translations) -> str:
    return MarkdownFormat().write(document, translations, OPTIONS)


def upper(unit: Unit) -> Unit:
    """The unit in capitals, except its keep spans (code, autolinks), with its tags where they were."""
    kept = {i for tag in unit.tags if tag.kind == "keep" for i in range(tag.start, tag.end)}
    return Unit("".join(c if i in kept else c.upper() for i, c in enumerate(unit.text)), unit.tags, unit.where)


def rendered(unit: Unit) -> Unit:
    """The unit itself, but not equal to it, so that write re-renders it instead of copying its source."""
    return Unit(unit.text, unit.tags + (Tag(0, 0, 10_000, "empty"),), unit.where)


def blocks(text: str) -> list[tuple[str, str]]:
    """The block structure markdown-it sees, with the literal content of code and HTML blocks."""
    out = []
    for token in MD.parse(text):
        if token.type in ("fence", "code_block", "html_block"):
            out.append((token.type, token.content))
        elif token.nesting != -1 and token.type != "inline":
            out.append((token.type, token.markup))
    return out


def inline_text(text: str) -> list[str]:
    """Each inline block's words, as a reader sees them."""
    out = []
    for token in MD.parse(text):
        if token.type == "inline":
            words = "".join(child.content if child.type in ("text", "code_inline", "text_special")
                            else " " if child.type.endswith("break") else "" for child in token.children)
            out.append(" ".join(words.split()))
    return out


def links(text: str) -> list[tuple[str, str | None]]:
    env: dict = {}
    found = []
    for token in MD.parse(text, env):
        for child in token.children or []:
            if child.type in ("link_open", "image"):
                found.append((str(child.attrs.get("href") or child.attrs.get("src")), child.attrs.get("title")))
    return found


# -- reading ---------------------------------------------------------------------------------------


def test_guide_units_are_headings_paragraphs_items_quotes_and_cells():
    doc = read((DATA / "guide.md").read_bytes(), "guide.md")
    texts = [unit.text for unit in doc.units]
    assert texts[0] == "Getting started with mtpipe"  # the setext heading; front matter and badges are not units
    assert "Install it & run it" in texts  # the ATX heading, its closing hashes and entity handled
    assert "plain text goes through as it is;" in texts  # a nested list item
    assert "Note: models are downloaded once, then cached. Set HF_HOME to move the cache, or read the FAQ." in texts
    assert "attributes such as alt | title" in texts  # a table cell with an escaped pipe
    assert ("Special characters are escaped: 5 * 3 _ 2, [not a link], a literal `tick` and "
            "<angle brackets> © 2026.") in texts
    assert not any("indented code" in text or "Raw HTML" in text or "title:" in text for text in texts)
    assert not any(text.startswith(".html") for text in texts)  # a cell of code only: nothing to translate
    assert doc.units[0].where == "line 6"


def test_inline_markup_becomes_tags_with_the_source_strings():
    doc = read('Some **bold _and nested_** text, a [link](https://x.org "T"), `code`, ![alt](i.png) '
               "and <https://auto.link>.\n")
    (unit,) = doc.units
    assert unit.text == "Some bold and nested text, a link, code,  and https://auto.link."
    markup = doc.data.blocks[0].markup
    spans = {markup[tag.id]: (unit.text[tag.start:tag.end], tag.kind) for tag in unit.tags}
    assert spans == {
        ("**", "**"): ("bold and nested", "pair"),
        ("_", "_"): ("and nested", "pair"),
        ("[", '](https://x.org "T")'): ("link", "pair"),
        ("`", "`"): ("code", "keep"),
        ("![alt](i.png)", ""): ("", "empty"),
        ("<", ">"): ("https://auto.link", "keep"),
    }


@pytest.mark.parametrize(("source", "text", "kinds"), [
    pytest.param("one  \ntwo\n", "one two", ["empty"], id="hard-break-spaces"),
    pytest.param("one\\\ntwo\n", "one two", ["empty"], id="hard-break-backslash"),
    pytest.param("one\ntwo\n", "one two", [], id="soft-break-is-a-space"),
    pytest.param("a \\* b \\_ c &amp; &#35; &copy;\n", "a * b _ c & # ©", [], id="escapes-and-entities"),
    pytest.param("`` a`b ``\n and more\n", "a`b and more", ["keep"], id="code-span-with-padding"),
    pytest.param("see <span>raw</span> html\n", "see raw html", ["empty", "empty"], id="inline-html"),
    pytest.param("~~gone~~ here\n", "gone here", ["pair"], id="strikethrough"),
], )
def test_inline_cases(source, text, kinds):
    (unit,) = read(source).units
    assert unit.text == text
    assert [tag.kind for tag in unit.tags] == kinds


@pytest.mark.parametrize("source", [
    pytest.param("```\ncode\n```\n", id="fence"),
    pytest.param("    indented code\n", id="indented"),
    pytest.param("<div>\nhtml block\n</div>\n", id="html-block"),
    pytest.param("[ref]: https://x.org\n", id="reference-definition"),
    pytest.param("---\ntitle: x\n---\n", id="front-matter"),
    pytest.param("[![badge](b.svg)](https://ci)\n", id="only-a-linked-image"),
    pytest.param("`only code`\n", id="only-code"),
    pytest.param("\n\n   \n", id="blank"),
    pytest.param("", id="empty"),
])
def test_what_is_not_translated_gives_no_unit(source):
    assert read(source).units == []


def test_a_linked_image_inside_text_is_one_empty_tag():
    doc = read("Build: [![ok](b.svg)](https://ci) today\n")
    (unit,) = doc.units
    assert unit.text == "Build:  today"
    (tag,) = unit.tags
    assert (tag.kind, doc.data.blocks[0].markup[tag.id]) == ("empty", ("[![ok](b.svg)](https://ci)", ""))


# -- round trip ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_identity_round_trip_is_byte_for_byte(name):
    data = (DATA / name).read_bytes()
    doc = read(data, name)
    assert doc.units
    assert write(doc, identity(doc)).encode("utf-8") == data


@pytest.mark.parametrize("source", [
    pytest.param("# Title\r\n\r\nA paragraph\r\nover two lines.  \r\nBroken.\r\n", id="crlf"),
    pytest.param("\ufeff# Title\n\ntext\n", id="byte-order-mark"),
    pytest.param("- a\n\t- tabbed *item*\n  lazy line\n", id="tabs-and-lazy-lines"),
    pytest.param("> > deep *quote*\n> > continued\n>\n> - item\n>   more\n", id="nested-quotes"),
    pytest.param("no newline at the end", id="no-final-newline"),
    pytest.param("a\0b *c*\n", id="nul-character"),
    pytest.param("| a | b |\n|---|---|\n| `x\\|y` | [l](u \"t\\|s\") |\n", id="table-escaped-pipes"),
    pytest.param("* * *\n\n1) one\n2) two\n\nTitle\n---\n", id="break-list-setext"),
])
def test_identity_round_trip_hand_cases(source):
    doc = read(source)
    assert write(doc, identity(doc)) == source


_PIECES = st.sampled_from([
    "a", "word", " ", "  ", "\n", "\n\n", "\r\n", "\t", "*", "**", "_", "`", "[", "]", "(", ")", "![", "<", ">",
    "&amp;", "&", "\\", "#", "# ", "- ", "1. ", "> ", "|", "---", "~~", "http://x", '"t"', "<b>", "</b>", "é",
    "=", "    ", "[r]: /u\n", "[r]", "```\n",
])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_identity_round_trip_of_any_markdown_soup(source):
    doc = read(source)
    assert write(doc, identity(doc)) == source
    assert all(block.kind != "raw" for block in doc.data.blocks)  # every block's inline markup was matched


# -- translated files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_upper_cased_translation_keeps_the_structure(name):
    source = (DATA / name).read_text(encoding="utf-8")
    doc = read(source, name)
    out = write(doc, [upper(unit) for unit in doc.units])
    assert out != source
    assert blocks(out) == blocks(source)  # same blocks, same code and HTML blocks, same markers
    assert links(out) == links(source)  # link and image targets and titles untouched
    expected = [upper(unit).text for unit in doc.units]
    got = inline_text(out)
    assert [" ".join(text.split()) for text in expected] == [text for text in got if text in
                                                             {" ".join(t.split()) for t in expected}]
    for unit in doc.units:
        assert " ".join(upper(unit).text.split()) in got


@pytest.mark.parametrize("name", FIXTURES)
def test_rendering_every_unit_again_reads_back_the_same(name):
    """Rendering (not copying) each unit unchanged gives a file that parses to the same blocks and text.

    Soft breaks become spaces, so the bytes differ; what markdown-it reads does not.
    """
    source = (DATA / name).read_text(encoding="utf-8")
    doc = read(source, name)
    out = write(doc, [rendered(unit) for unit in doc.units])
    assert blocks(out) == blocks(source)
    assert inline_text(out) == inline_text(source)
    assert links(out) == links(source)


_WORD = st.sampled_from(["alpha", "beta", "gamma", "x_y", "5", "é", "a*b", "[c]", "<d>", "1.", "#", "|", "&amp;"])
_PLAIN = st.sampled_from(["alpha", "beta", "gamma", "é"])


@st.composite
def _inline(draw, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["word", "word", "em", "strong", "code", "link", "image", "break"]
                                    if depth < 2 else ["word"]))
        if kind == "word":
            parts.append(" ".join(draw(st.lists(_WORD, min_size=1, max_size=3))))
        elif kind in ("em", "strong"):  # words at its edges, so that no two delimiter runs touch
            inner = f"{draw(_PLAIN)} {draw(_inline(depth + 1)).strip()} {draw(_PLAIN)}"
            parts.append("*" + inner + "*" if kind == "em" else "**" + inner + "**")
        elif kind == "code":
            parts.append("`" + draw(st.sampled_from(["x", "a b", "<tag>", "*"])) + "`")
        elif kind == "link":
            parts.append("[" + draw(_inline(depth + 1)).strip() + "](https://x.org/p \"T\")")
        elif kind == "image":
            parts.append("![alt](i.png)")
        else:
            parts.append("  \n")
    return " ".join(parts)


@st.composite
def _documents(draw) -> str:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        prefix = draw(st.sampled_from(["", "# ", "- ", "1. ", "> "]))
        out.append(prefix + draw(_inline()).strip())
    return "\n\n".join(out) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_documents())
def test_rendering_again_reads_back_the_same_for_generated_documents(source):
    """Well-formed Markdown (words, emphasis, code, links, images, hard breaks in headings, lists, quotes).

    Soups where literal ``*`` or ``_`` touch real emphasis delimiters are left out: escaping the
    literal one changes the length of the delimiter run, and CommonMark pairs runs by their length.
    """
    doc = read(source)
    out = write(doc, [rendered(unit) for unit in doc.units])
    assert blocks(out) == blocks(source)
    assert inline_text(out) == inline_text(source)
    assert links(out) == links(source)


def test_moved_and_dropped_tags():
    doc = read("Read **the docs** at [our site](https://x.org) now.\n")
    (unit,) = doc.units
    bold, link = sorted(unit.tags, key=lambda tag: tag.start)
    # The translation moves the bold to another word and drops the link: its text stays, its markup goes.
    translation = Unit("Lies die Doku jetzt auf unserer Seite.", (Tag(5, 8, bold.id),))
    assert write(doc, [translation]) == "Lies **die** Doku jetzt auf unserer Seite.\n"


@pytest.mark.parametrize(("translation", "expected"), [
    pytest.param(Unit("5 * 3 = [x] <b> `y` a_b _c_ ~~d~~ &amp;"),
                 "5 \\* 3 = \\[x\\] \\<b> \\`y\\` a_b \\_c\\_ \\~\\~d\\~\\~ \\&amp;\n", id="inline-specials"),
    pytest.param(Unit("# not a heading"), "\\# not a heading\n", id="heading-marker"),
    pytest.param(Unit("1. not a list"), "1\\. not a list\n", id="ordered-list-marker"),
    pytest.param(Unit("- not a list"), "\\- not a list\n", id="bullet-marker"),
    pytest.param(Unit("> not a quote"), "\\> not a quote\n", id="quote-marker"),
    pytest.param(Unit("two\nlines   "), "two lines\n", id="newlines-become-spaces"),
    pytest.param(Unit("C:\\path"), "C:\\\\path\n", id="backslash"),
])
def test_translated_text_is_escaped(translation, expected):
    doc = read("plain\n")
    out = write(doc, [translation])
    assert out == expected
    assert inline_text(out) == [" ".join(translation.text.split())]


def test_translated_cells_escape_pipes_and_keep_the_table():
    source = "| a | b |\n|---|---|\n| one | two |\n"
    doc = read(source)
    out = write(doc, [Unit(unit.text + " | x") for unit in doc.units])
    assert out == "| a \\| x | b \\| x |\n|---|---|\n| one \\| x | two \\| x |\n"
    assert blocks(out) == blocks(source)


def test_changed_multi_line_paragraph_keeps_its_container_prefix_and_hard_breaks():
    source = "> first line  \n> second *line*\n> third\n"
    doc = read(source)
    (unit,) = doc.units
    assert unit.text == "first line second line third"
    out = write(doc, [upper(unit)])
    assert out == "> FIRST LINE   \n> SECOND *LINE* THIRD\n"
    assert blocks(out) == blocks(source)


def test_shortcut_references_name_their_definition_once_translated():
    source = "See [the FAQ] and [docs][].\n\n[the faq]: https://x.org/faq\n[docs]: https://x.org/docs\n"
    doc = read(source)
    out = write(doc, [Unit("Ver a FAQ e a doc.", (Tag(4, 9, 1), Tag(12, 17, 2)))])
    assert out.startswith("Ver [a FAQ][the FAQ] e [a doc][docs].\n")
    assert links(out) == links(source)


def test_heading_closing_hashes_stay_and_a_translated_trailing_hash_is_escaped():
    doc = read("## Title ##\n")
    assert write(doc, [Unit("C#")]) == "## C# ##\n"
    assert write(doc, [Unit("Version #")]) == "## Version \\# ##\n"


def test_translations_with_unknown_or_broken_tags_do_not_crash():
    doc = read("a **b** [c](u) `d`\n")
    (unit,) = doc.units
    broken = Unit("x y z", (Tag(3, 99, 1), Tag(-5, 2, 2), Tag(1, 1, 77, "empty"), Tag(4, 2, 3, "keep")))
    out = write(doc, [broken])
    assert "x" in out and "y" in out and "z" in out


# -- errors and registry ---------------------------------------------------------------------------


def test_not_utf8_names_file_line_and_column():
    with pytest.raises(InputError, match=re.escape("notes.md:2:3: not UTF-8 (byte 0xff)")):
        read(b"# ok\nab\xff\n", "notes.md")


@pytest.mark.parametrize("path", ["README.md", "docs/Guide.MARKDOWN"])
def test_format_is_picked_by_extension(path, tmp_path):
    assert format_for(path) == "markdown"
    assert isinstance(get_format("markdown"), MarkdownFormat)
    file = tmp_path / Path(path).name
    file.write_bytes(b"Hello *world*\n")
    doc = read_document(file, format_for(file), OPTIONS)
    assert doc.format == "markdown"
    assert render_document(doc, [upper(doc.units[0])], OPTIONS) == b"HELLO *WORLD*\n"
