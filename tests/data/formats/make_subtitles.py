"""Write talk.srt with pysubs2 and talk.vtt with webvtt-py (python tests/data/formats/make_subtitles.py).

The cues are interesting on purpose: two-line cues, italics and bold (pysubs2 writes them from ASS
overrides), a <font> colour, a tag across a line break, a dialogue cue, a cue that is only a number;
in WebVTT: a header with metadata, NOTE and STYLE blocks, cue identifiers and settings, voice and class
tags, entities, a karaoke timestamp.
"""

from __future__ import annotations

from pathlib import Path

import pysubs2
import webvtt
from webvtt import Caption, Style

HERE = Path(__file__).parent


def make_srt() -> None:
    subs = pysubs2.SSAFile()
    cues = [
        (1000, 3500, r"Welcome to the annual report,\Nrecorded live in Lisbon."),
        (3600, 6000, r"{\i1}This year we shipped\Nthree new products.{\i0}"),
        (6100, 8000, r"- Did you say <b>three</b>?\N- Yes, three!"),
        (8100, 9000, "1984"),
        (9100, 12000, r'The <font color="#ffcc00">golden</font> rule: {\u1}never{\u0} ship on Fridays.'),
        (12100, 15000, r"Costs fell by 12%, while revenue grew\Nfaster than we had {\i1}ever{\i0} expected."),
    ]
    for start, end, text in cues:
        subs.append(pysubs2.SSAEvent(start=start, end=end, text=text))
    subs.save(str(HERE / "talk.srt"), format_="srt")


def make_vtt() -> None:
    captions = [
        Caption("00:00:01.000", "00:00:03.500", "<v Alice>Good morning, everyone.", identifier="intro"),
        Caption("00:00:03.600", "00:00:06.000",
                ["<v Bob>Thanks, Alice. Today we talk about", "<c.highlight>tea &amp; biscuits</c>.</v>"],
                settings="align:start line:0"),
        Caption("00:00:06.100", "00:00:09.000", ["Prices are <b>up</b> 5% &lt;again&gt;.", "<i>Sorry.</i>"]),
        Caption("00:00:09.100", "00:00:12.000", "Never <00:00:10.000>stop <00:00:11.000>learning.",
                identifier="karaoke", settings="position:10% align:left"),
    ]
    vtt = webvtt.WebVTT(
        captions=captions,
        styles=[Style("::cue(.highlight) {\n  color: yellow;\n}")],
        header_comments=["Made for the mtpipe tests.", "Not translated: this note stays as it is."],
        header_text="- Annual report",
        metadata=["Kind: captions", "Language: en"],
    )
    vtt.save(str(HERE / "talk.vtt"))


if __name__ == "__main__":
    make_srt()
    make_vtt()
