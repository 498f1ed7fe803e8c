"""The hand-made tag placement set (tests/data/tags/en-pt.jsonl): read it and judge a system's output.

Each sentence's markup is parsed with the standard library's ``html.parser`` into a
:class:`pipeline.formats.Unit` (plain text plus tags). A tag is *kept* when the output
has it, properly nested; it is *right* when the words it wraps in the output, after
normalisation, are one of the hand-written alternatives (for ``<br>``: the word before it).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.formats import Tag, Unit

TAGSET = Path(__file__).resolve().parent.parent / "data" / "tags" / "en-pt.jsonl"
VOID = {"br", "img", "wbr"}
KEEP = {"code"}


@dataclass(frozen=True)
class Case:
    id: int
    unit: Unit
    names: list[str]  # each tag's element name, by tag id order (= opening order)
    expected: list[list[str]]


class _Fragment(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.open, self.tags, self.names = "", [], [], []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        number = len(self.names)
        self.names.append(tag)
        if tag in VOID:
            self.tags.append(Tag(len(self.text), len(self.text), number, "empty"))
        else:
            self.open.append((tag, number, len(self.text)))

    def handle_endtag(self, tag: str) -> None:
        name, number, start = self.open.pop()
        assert name == tag, f"badly nested {tag}"
        self.tags.append(Tag(start, len(self.text), number, "keep" if tag in KEEP else "pair"))

    def handle_data(self, data: str) -> None:
        self.text += data


def load(path: Path = TAGSET) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        parser = _Fragment()
        parser.feed(record["source"])
        parser.close()
        tags = tuple(sorted(parser.tags, key=lambda t: t.id))
        cases.append(Case(record["id"], Unit(parser.text, tags), parser.names, record["expected"]))
    return cases


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[^\w]+|[^\w]+$", "", text)


def judge(case: Case, output: Unit) -> tuple[int, int, list[str]]:
    """(tags kept, tags right, what went wrong) for one translated sentence."""
    by_id = {tag.id: tag for tag in output.tags}
    kept = right = 0
    wrong = []
    if not _well_nested(output.tags):
        return 0, 0, [f"{case.id}: badly nested tags {output.tags}"]
    for tag in case.unit.tags:
        got = by_id.get(tag.id)
        if got is None:
            wrong.append(f"{case.id}: <{case.names[tag.id]}> lost")
            continue
        kept += 1
        if tag.kind == "empty":
            before = re.findall(r"\w+", output.text[: got.start])
            seen = normalise(before[-1]) if before else ""
        else:
            seen = normalise(output.text[got.start : got.end])
        if seen in {normalise(alt) for alt in case.expected[tag.id]}:
            right += 1
        else:
            wrong.append(f"{case.id}: <{case.names[tag.id]}> wraps {seen!r} in {output.text!r}")
    return kept, right, wrong


def _well_nested(tags: tuple[Tag, ...]) -> bool:
    spans = [(t.start, t.end) for t in tags if t.kind != "empty"]
    for a in spans:
        for b in spans:
            if a[0] < b[0] < a[1] < b[1]:
                return False
    return all(0 <= t.start <= t.end for t in tags)


def translate_with_alignment(translator, cases: list[Case], src: str = "en", tgt: str = "pt-BR",  # noqa: ANN001
                             aligner=None) -> list[Unit]:  # noqa: ANN001
    """The cases translated as mtpipe translates any document: plain text, then tags put back by alignment."""
    from pipeline.documents import prepare
    from pipeline.formats import Document
    from pipeline.wordalign import aligner_for

    prepared = prepare(Document("text", "tagset", [case.unit for case in cases]), src, split=False)
    plain = translator.translate(prepared.texts, src, tgt)
    units, _ = prepared.translated_units(plain, tgt_lang=tgt, aligner=aligner or aligner_for(translator, src, tgt))
    return units


def score(cases: list[Case], units: list[Unit]) -> tuple[int, int, list[str]]:
    """(tags kept, tags on the right words, what went wrong) over the set."""
    kept = right = 0
    wrong: list[str] = []
    for case, unit in zip(cases, units, strict=True):
        k, r, w = judge(case, unit)
        kept, right, wrong = kept + k, right + r, wrong + w
    return kept, right, wrong
