"""SubRip and WebVTT: one unit per cue, inline tags kept, timings and blocks untouched, cues rewrapped."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pysubs2
import pytest
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.formats import format_for, get_format, identity, render_document
from pipeline.formats.base import FormatOptions, Tag, Unit
from pipeline.formats.subtitles import SrtFormat, VttFormat, wrap

DATA = Path(__file__).parent / "data" / "formats"
OPTIONS = FormatOptions()


def read(fmt: SrtFormat | VttFormat, text: str, name: str = "talk.srt"):
    return fmt.read(text.encode("utf-8"), name, OPTIONS)


def upper(unit: Unit) -> Unit:
    return Unit(unit.text.upper(), unit.tags, unit.where)


SRT_CASES = [
    pytest.param("1\n00:00:01,000 --> 00:00:02,000\nHello.\n", id="one-cue"),
    pytest.param("1\r\n00:00:01,000 --> 00:00:02,000\r\nHello,\r\nworld.\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\n"
                 "Bye.\r\n", id="crlf"),
    pytest.param("\ufeff1\n00:00:01,000 --> 00:00:02,000\nHello.", id="bom-no-final-newline"),
    pytest.param("00:00:01,000 --> 00:00:02,000\nNo number.\n\n00:00:03,000 --> 00:00:04,000\nStill none.\n",
                 id="no-numbers"),
    pytest.param("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\n<i></i>\n", id="empty-cues"),
    pytest.param("7\n0:00:01.5 --> 0:00:02.25  X1:100 X2:200\n  spaced   out  \n\n\n\n",
                 id="loose-timing-extra-blanks"),
    pytest.param("1\n00:00:01,000 --> 00:00:02,000\n{\\an8}<i>Unclosed italics\nand <b>bold</i> crossed</b>\n",
                 id="ass-override-bad-nesting"),
    pytest.param("1\n00:00:01,000 --> 00:00:02,000\na < b & c > d <3\n", id="literal-brackets"),
    pytest.param("", id="empty-file"),
]

VTT_CASES = [
    pytest.param("WEBVTT\n\n00:01.000 --> 00:02.000\nHello.\n", id="short-timestamps"),
    pytest.param("WEBVTT\r\n\r\nNOTE between\r\n\r\n1\r\n00:00:01.000 --> 00:00:02.000 align:middle\r\nA\r\nB\r\n",
                 id="crlf-note-old-setting"),
    pytest.param("\ufeffWEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v.loud Ann>Hi &amp; bye&nbsp;now\n"
                 "   \nmore\n\nNOTE\nmulti-line\nnote\n", id="bom-voice-whitespace-line"),
    pytest.param("WEBVTT\n\nREGION\nid:fred width:40%\n\n00:00:01.000 --> 00:00:02.000 region:fred\n"
                 "<ruby>漢<rt>kan</rt></ruby> {not ass}\n", id="region-ruby-braces"),
]


@pytest.mark.parametrize("path", sorted(DATA.glob("*.srt")) + sorted(DATA.glob("*.vtt")), ids=lambda p: p.name)
def test_identity_gives_each_fixture_back_byte_for_byte(path: Path) -> None:
    fmt = get_format(format_for(path))
    data = path.read_bytes()
    document = fmt.read(data, path.name, OPTIONS)
    assert document.units, "the fixture has cues"
    assert render_document(document, identity(document), OPTIONS) == data


@pytest.mark.parametrize("text", SRT_CASES)
def test_srt_identity_hand_cases(text: str) -> None:
    document = read(SrtFormat(), text)
    assert SrtFormat().write(document, identity(document), OPTIONS) == text


@pytest.mark.parametrize("text", VTT_CASES)
def test_vtt_identity_hand_cases(text: str) -> None:
    document = read(VttFormat(), text, "talk.vtt")
    assert VttFormat().write(document, identity(document), OPTIONS) == text


def test_srt_units_are_cues_with_lines_joined_and_markup_as_tags() -> None:
    document = get_format("srt").read((DATA / "talk.srt").read_bytes(), "talk.srt", OPTIONS)
    assert [u.where for u in document.units] == [f"cue {n}" for n in range(1, 7)]
    assert document.units[1] == Unit("This year we shipped three new products.", (Tag(0, 40, 0),), "cue 2")
    fifth = document.units[4]
    assert fifth.text == "The golden rule: never ship on Fridays."
    assert [fifth.text[t.start:t.end] for t in fifth.tags] == ["golden", "never"]
    assert document.data.cues[4].markup == {0: ('<font color="#ffcc00">', "</font>"), 1: ("<u>", "</u>")}


def test_vtt_units_decode_entities_and_keep_voice_and_timestamp_tags() -> None:
    document = get_format("vtt").read((DATA / "talk.vtt").read_bytes(), "talk.vtt", OPTIONS)
    assert len(document.units) == 4  # the header, the NOTEs and the STYLE block are not translated
    second = document.units[1]
    assert second.text == "Thanks, Alice. Today we talk about tea & biscuits."
    assert [(second.text[t.start:t.end], document.data.cues[1].markup[t.id]) for t in second.tags] == [
        (second.text, ("<v Bob>", "</v>")), ("tea & biscuits", ("<c.highlight>", "</c>"))]
    assert document.units[2].text == "Prices are up 5% <again>. Sorry."
    assert document.units[0].tags == (Tag(0, 23, 0),)  # <v Alice> is never closed: it covers the cue
    assert [t.kind for t in document.units[3].tags] == ["empty", "empty"]


def test_bad_nesting_and_ass_overrides_become_empty_tags() -> None:
    document = read(SrtFormat(), SRT_CASES[6].values[0])
    unit = document.units[0]
    assert unit.text == "Unclosed italics and bold crossed"
    markup = document.data.cues[0].markup
    kinds = {markup[t.id][0]: t.kind for t in unit.tags}
    assert kinds == {"{\\an8}": "empty", "<i>": "pair", "<b>": "pair", "</i>": "empty"}


def test_srt_upper_case_translation_keeps_cues_timings_and_tags() -> None:
    data = (DATA / "talk.srt").read_bytes()
    fmt = get_format("srt")
    document = fmt.read(data, "talk.srt", OPTIONS)
    out = fmt.write(document, [upper(u) for u in document.units], OPTIONS)
    before, after = pysubs2.SSAFile.from_string(data.decode()), pysubs2.SSAFile.from_string(out)
    assert [(e.start, e.end) for e in after] == [(e.start, e.end) for e in before]
    assert [e.plaintext for e in after] == [e.plaintext.upper() for e in before]
    assert "<i>THIS YEAR WE SHIPPED\nTHREE NEW PRODUCTS.</i>" in out
    assert '<font color="#ffcc00">GOLDEN</font>' in out
    assert re.findall(r"(?m)^(\d+)\n00:", out) == ["1", "2", "3", "4", "5", "6"]


def test_vtt_upper_case_translation_keeps_header_notes_settings_and_identifiers() -> None:
    data = (DATA / "talk.vtt").read_text("utf-8")
    document = read(VttFormat(), data, "talk.vtt")
    out = VttFormat().write(document, [upper(u) for u in document.units], OPTIONS)
    before, after = webvtt.from_string(data, strict=True), webvtt.from_string(out, strict=True)
    assert [(c.identifier, c.start, c.end, str(c.settings)) for c in after] == [
        (c.identifier, c.start, c.end, str(c.settings)) for c in before]
    assert [html.unescape(c.text).replace("\n", " ") for c in after] == [
        html.unescape(c.text).replace("\n", " ").upper() for c in before]
    assert out.split("intro\n")[0] == data.split("intro\n")[0]  # header, NOTE and STYLE blocks
    assert "<c.highlight>TEA &amp; BISCUITS</c>" in out
    assert "&lt;AGAIN&gt;" in out


def test_dropped_and_moved_tags() -> None:
    """A dropped tag loses its markup; a moved one lands on its new words."""
    text = "1\n00:00:01,000 --> 00:00:02,000\n<i>Hello</i> <b>big</b> world\n"
    document = read(SrtFormat(), text)
    assert document.units[0].text == "Hello big world"
    moved = Unit("Hello big world", (Tag(10, 15, 1),))  # <b> now on "world", <i> gone
    out = SrtFormat().write(document, [moved], OPTIONS)
    assert out == "1\n00:00:01,000 --> 00:00:02,000\nHello big <b>world</b>\n"
    assert pysubs2.SSAFile.from_string(out)[0].plaintext == "Hello big world"


def test_unknown_tag_ids_and_odd_whitespace_in_a_translation_do_not_break_the_cue() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nOne\ntwo\n\n2\n00:00:03,000 --> 00:00:04,000\nThree\n"
    document = read(SrtFormat(), text)
    odd = Unit("  Um\n\ndois \t ", (Tag(0, 4, 7),))
    out = SrtFormat().write(document, [odd, document.units[1]], OPTIONS)
    assert out == "1\n00:00:01,000 --> 00:00:02,000\nUm\ndois\n\n2\n00:00:03,000 --> 00:00:04,000\nThree\n"


def test_rewrap_keeps_line_count_and_limit_and_adds_lines_when_needed() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nShort\nlines\n"
    document = read(SrtFormat(), text)
    long = "This translation is a good deal longer, and it will not fit on two lines of twenty characters"
    out = SrtFormat().write(document, [Unit(long)], FormatOptions(line_length=20))
    lines = out.splitlines()[2:]
    assert " ".join(lines) == long
    assert all(len(line) <= 20 for line in lines)
    assert len(lines) > 2
    two = SrtFormat().write(document, [Unit("Curto, mas agora com mais palavras")], OPTIONS)
    assert two.splitlines()[2:] == ["Curto, mas agora", "com mais palavras"]


@pytest.mark.parametrize(("text", "lines", "expected"), [
    pytest.param("Hello, my name is Inigo Montoya.", 2, ["Hello, my name", "is Inigo Montoya."],
                 id="balanced-bottom-heavy"),
    pytest.param("I told you so, but you never listen", 2, ["I told you so,", "but you never listen"],
                 id="after-comma"),
    pytest.param("- Did you see it? - Yes I did", 2, ["- Did you see it?", "- Yes I did"], id="dialogue"),
    pytest.param("One line only", 1, ["One line only"], id="one-line"),
    pytest.param("Word", 3, ["Word"], id="fewer-words-than-lines"),
    pytest.param("Supercalifragilisticexpialidocious yes", 1,
                 ["Supercalifragilisticexpialidocious", "yes"], id="long-word-gets-its-own-line"),
])
def test_wrap(text: str, lines: int, expected: list[str]) -> None:
    breaks = wrap(text, lines, 20)
    chars = list(text)
    for offset in breaks:
        chars[offset] = "\n"
    assert "".join(chars).split("\n") == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab ,.-", min_size=1, max_size=12).map(str.strip).filter(bool), min_size=1,
                max_size=15),
       st.integers(1, 4), st.integers(5, 30))
def test_wrap_keeps_words_and_respects_the_limit(words: list[str], lines: int, limit: int) -> None:
    text = " ".join(" ".join(words).split())
    breaks = wrap(text, lines, limit)
    chars = list(text)
    for offset in breaks:
        assert text[offset] == " "
        chars[offset] = "\n"
    out = "".join(chars).split("\n")
    assert " ".join(out) == text
    assert len(out) >= min(lines, len(text.split()))
    assert all(len(line) <= limit or " " not in line for line in out)


_cue_line = st.text(alphabet=st.sampled_from(list("ab <>/i{}\\&;-")), min_size=1, max_size=20).filter(
    lambda s: s.strip() and "-->" not in s)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_cue_line, min_size=1, max_size=3), min_size=1, max_size=5), st.sampled_from(["\n", "\r\n"]))
def test_identity_round_trip_property(cues: list[list[str]], newline: str) -> None:
    blocks = [f"{n}{newline}00:00:0{n},000 --> 00:00:0{n},500{newline}" + newline.join(lines)
              for n, lines in enumerate(cues, start=1)]
    text = (newline * 2).join(blocks) + newline
    srt = read(SrtFormat(), text)
    assert SrtFormat().write(srt, identity(srt), OPTIONS) == text
    vtt_text = f"WEBVTT{newline}{newline}" + text.replace(",000", ".000").replace(",500", ".500")
    vtt = read(VttFormat(), vtt_text, "talk.vtt")
    assert VttFormat().write(vtt, identity(vtt), OPTIONS) == vtt_text
    changed = [Unit(u.text + " x", u.tags) for u in srt.units]
    assert len(pysubs2.SSAFile.from_string(SrtFormat().write(srt, changed, OPTIONS), format_="srt")) == len(cues)


@pytest.mark.parametrize(("fmt", "data", "message"), [
    pytest.param(SrtFormat(), "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,000 --> 00:00:04,000\nB\n\n"
                 "3\n00:01:02,000 --> xx\nC\n", r"^talk\.srt: cue 3 \(line 10\): broken timing '00:01:02,000 --> xx'$",
                 id="srt-broken-timing"),
    pytest.param(SrtFormat(), "1\n00:00:01,000 -> 00:00:02,000\nA\n",
                 r"^talk\.srt: cue 1 \(line 2\): broken timing '00:00:01,000 -> 00:00:02,000'$", id="srt-no-timing"),
    pytest.param(SrtFormat(), "1\n00:00:01,000 --> 00:00:02,000\nA\n2\n00:00:03,000 --> 00:00:04,000\nB\n",
                 r"^talk\.srt: cue 1 \(line 4\): missing blank line before the next cue$", id="srt-missing-blank"),
    pytest.param(SrtFormat(), "1\n00:00:01,000 --> 00:00:02,000\nA\n\nB after a blank line\n",
                 r"^talk\.srt: cue 2 \(line 5\): expected a cue number or a timing, got 'B after a blank line'$",
                 id="srt-blank-line-inside-cue"),
    pytest.param(SrtFormat(), "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n",
                 r"^talk\.srt: cue 2 \(line 5\): a cue number with no timing after it$", id="srt-number-alone"),
    pytest.param(SrtFormat(), b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n",
                 r"^talk\.srt:3:4: not UTF-8 \(byte 0xe9\)$", id="srt-not-utf8"),
    pytest.param(VttFormat(), "1\n00:00:01.000 --> 00:00:02.000\nA\n",
                 r"^talk\.vtt:1: not a WebVTT file \(the first line must start with 'WEBVTT'\)$", id="vtt-no-header"),
    pytest.param(VttFormat(), "WEBVTT\n\n00:00:01,000 --> 00:00:02,000\nA\n",
                 r"^talk\.vtt: cue 1 \(line 3\): broken timing '00:00:01,000 --> 00:00:02,000'$",
                 id="vtt-srt-style-timing"),
    pytest.param(VttFormat(), "WEBVTT\n00:00:01.000 --> 00:00:02.000\nA\n",
                 r"^talk\.vtt: cue 1 \(line 2\): missing blank line after the WEBVTT header$", id="vtt-header-blank"),
    pytest.param(VttFormat(), "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n00:00:03.000 --> 00:00:04.000\nB\n",
                 r"^talk\.vtt: cue 1 \(line 5\): missing blank line before the next cue$", id="vtt-missing-blank"),
    pytest.param(VttFormat(), "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n\nstray text\n",
                 r"^talk\.vtt: cue 2 \(line 6\): a block with no timing: 'stray text'$", id="vtt-stray-block"),
])
def test_errors_name_the_file_and_the_cue(fmt: SrtFormat | VttFormat, data: str | bytes, message: str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()
    with pytest.raises(InputError, match=message):
        fmt.read(raw, "talk.srt" if isinstance(fmt, SrtFormat) else "talk.vtt", OPTIONS)


def test_library_disagreement_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """If pysubs2 finds another number of cues than the blocks make, the file is not trusted."""
    monkeypatch.setattr(pysubs2.SSAFile, "from_string", classmethod(lambda cls, *a, **k: []))
    with pytest.raises(InputError, match=r"^talk\.srt: pysubs2 reads 0 cues, the blocks make 1$"):
        read(SrtFormat(), "1\n00:00:01,000 --> 00:00:02,000\nA\n")


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("talk.srt", "srt", id="srt"),
    pytest.param("TALK.SRT", "srt", id="upper-case"),
    pytest.param("captions/talk.en.vtt", "vtt", id="vtt"),
])
def test_format_picked_by_extension(path: str, expected: str) -> None:
    assert format_for(path) == expected
    assert get_format(expected).name == expected
