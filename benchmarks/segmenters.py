"""Measure the segmentation candidates per language; prints the tables kept in docs/segmentation.md.

Usage: python benchmarks/segmenters.py [--speed] [--long]

The candidates are the backends of :data:`pipeline.segment.BACKENDS` (sentencex; pysbd
with ``clean=False``, as the segmenter runs it), pysbd's other modes (``char_span=True``;
``clean=True``; ``clean=True, doc_type="pdf"``), and ``auto``, the per-language default
(:data:`pipeline.segment.LANGUAGE_BACKENDS`). Every candidate goes through
:class:`pipeline.segment.Segmenter`, so the figures are those of the real code. Measured:

* English: the article corpora/automated-translation-article.en.txt against its
  hand-written gold (tests/data/article.en.segments.txt, 19 segments) and the Golden
  Rules (tests/data/golden_rules_en.json, 48 cases from pySBD);
* pt, de, fr, es, zh: the multilingual samples (tests/data/multilingual/*.txt), FLORES-200
  paragraphs and hand-written ones with abbreviations, numbers and quotes;
* the six FLORES-200 devtest languages (corpora/flores200-devtest/, 1012 lines each): the
  lines joined four to a paragraph (how many lines come out exactly as one segment, and how
  many of the 759 line boundaries inside the paragraphs are missed), and the file
  segmented as it is, one paragraph per line (how many lines stay whole);
* with --long, how sentencex and pysbd hold up on longer paragraphs: the English FLORES
  lines joined 4, 16, 64, 256 and all 1012 to a paragraph;
* with --speed, the time to segment the English FLORES lines, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.errors import ConfigError  # noqa: E402
from pipeline.segment import AUTO_BACKEND, BACKENDS, Segmenter, backend_for  # noqa: E402

DATA = ROOT / "tests" / "data"
FLORES = ROOT / "corpora" / "flores200-devtest"
FLORES_FILES = {
    "en": "eng_Latn", "pt": "por_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "zh": "zho_Hans",
}
SAMPLE_LANGUAGES = ("pt", "de", "fr", "es", "zh")
FLORES_GROUP = 4  # lines to a paragraph


# --------------------------------------------------------------------------
# pysbd's other modes, as backends of their own (for measuring only)
# --------------------------------------------------------------------------


def _pysbd_variant(name: str, **options: object) -> str:
    """Register pysbd with other ``pysbd.Segmenter`` options under ``name``; returns the name."""
    base = BACKENDS["pysbd"]

    class Variant(base):  # type: ignore[misc, valid-type]
        def sentences(self, paragraph: str) -> list[str]:
            segmenter = self._pysbd.Segmenter(language=self.language.language, **options)
            return [getattr(s, "sent", s) for s in segmenter.segment(paragraph)]

    Variant.name = name
    BACKENDS[name] = Variant
    return name


CANDIDATES = (
    "sentencex",
    "pysbd",
    _pysbd_variant("pysbd char_span=True", clean=False, char_span=True),
    _pysbd_variant("pysbd clean=True", clean=True),
    _pysbd_variant('pysbd clean=True doc_type="pdf"', clean=True, doc_type="pdf"),
    AUTO_BACKEND,
)


def segmenter(candidate: str, lang: str) -> Segmenter | None:
    """The segmenter for a candidate, or None where it does not support the language."""
    try:
        return Segmenter(lang, candidate)
    except ConfigError:
        return None


def label(candidate: str, lang: str) -> str:
    return f"auto ({backend_for(lang)})" if candidate == AUTO_BACKEND else candidate


# --------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------


def load_samples(path: Path) -> list[list[str]]:
    """Read a sample file: blocks separated by blank lines, one gold sentence per line, '#' comments."""
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if not line.startswith("#")]
    return [block.split("\n") for block in "\n".join(lines).strip().split("\n\n")]


def joiner(lang: str) -> str:
    """What goes between two sentences of a paragraph."""
    return "" if lang == "zh" else " "


def article(seg: Segmenter) -> str:
    gold = (DATA / "article.en.segments.txt").read_text(encoding="utf-8").splitlines()
    texts = seg.segment((DATA / "article.en.txt").read_text(encoding="utf-8")).texts
    right = sum(1 for text in texts if text in gold)
    return f"{'yes' if texts == gold else 'no'} ({len(texts)} segments, {right} right)"


def golden_rules(seg: Segmenter) -> list[int]:
    """The ids of the Golden Rules cases the segmenter gets wrong."""
    cases = json.loads((DATA / "golden_rules_en.json").read_text(encoding="utf-8"))["cases"]
    return [case["id"] for case in cases if seg.segment(case["text"]).texts != case["sentences"]]


def samples(seg: Segmenter, lang: str) -> tuple[int, int, int, int]:
    """Gold sentences produced exactly, their total, paragraphs segmented exactly, their total."""
    blocks = load_samples(DATA / "multilingual" / f"{lang}.txt")
    sentences = paragraphs = 0
    for gold in blocks:
        texts = seg.segment(joiner(lang).join(gold)).texts
        paragraphs += texts == gold
        sentences += len(set(texts) & set(gold))
    return sentences, sum(len(block) for block in blocks), paragraphs, len(blocks)


def flores_lines(lang: str) -> list[str]:
    path = FLORES / f"{FLORES_FILES[lang]}.devtest"
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def flores_paragraphs(seg: Segmenter, lang: str, size: int = FLORES_GROUP) -> tuple[int, int, int]:
    """FLORES lines joined ``size`` to a paragraph: lines exactly one segment, boundaries missed, boundaries."""
    lines = flores_lines(lang)
    exact = missed = boundaries = 0
    for i in range(0, len(lines), size):
        group = lines[i : i + size]
        document = seg.segment(joiner(lang).join(group))
        ends = {segment.end for segment in document.segments}
        starts = {segment.start for segment in document.segments}
        position = 0
        for n, line in enumerate(group):
            start, end = position, position + len(line)
            exact += start in starts and end in ends and not any(start < e < end for e in ends)
            if n < len(group) - 1:
                boundaries += 1
                missed += end not in ends
            position = end + len(joiner(lang))
    return exact, missed, boundaries


def flores_whole(seg: Segmenter, lang: str) -> tuple[int, int]:
    """The FLORES file as it is (one paragraph per line): lines kept as one segment, lines."""
    lines = flores_lines(lang)
    document = seg.segment("\n".join(lines))
    counts = [0] * len(lines)
    for segment in document.segments:
        counts[segment.paragraph] += 1
    return sum(count == 1 for count in counts), len(lines)


def long_paragraphs() -> list[str]:
    sizes = (4, 16, 64, 256, 1012)
    rows = []
    for name in ("sentencex", "pysbd"):
        seg = Segmenter("en", name)
        cells = []
        for size in sizes:
            exact, missed, boundaries = flores_paragraphs(seg, "en", size)
            cells.append(f"{exact} exact, {missed}/{boundaries} missed")
        rows.append([name, *cells])
    return table(["backend", *(f"{size} lines" for size in sizes)], rows)


def speed() -> list[str]:
    lines = flores_lines("en")
    document = "\n\n".join(" ".join(lines[i : i + FLORES_GROUP]) for i in range(0, len(lines), FLORES_GROUP))
    seconds = {}
    for name in ("sentencex", "pysbd"):
        seg = Segmenter("en", name)
        started = time.perf_counter()
        seg.segment(document)
        seconds[name] = time.perf_counter() - started
    fastest = min(seconds.values())
    return [f"- {name}: {s:.3f} s for {len(lines)} sentences ({s / fastest:.1f}x the fastest)"
            for name, s in seconds.items()]


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def per_language(measure: Callable[[Segmenter, str], str], languages: tuple[str, ...]) -> list[list[str]]:
    rows = []
    for candidate in CANDIDATES:
        row = [candidate]
        for lang in languages:
            seg = segmenter(candidate, lang)
            cell = "unsupported" if seg is None else measure(seg, lang)
            row.append(f"{cell} ({backend_for(lang)})" if candidate == AUTO_BACKEND else cell)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", action="store_true", help="also time sentencex and pysbd on FLORES English")
    parser.add_argument("--long", action="store_true", help="also measure longer English paragraphs")
    args = parser.parse_args(argv)
    # pysbd with clean=True rewrites text; the segmenter's warnings about it would drown the tables.
    logging.getLogger("pipeline.segment").setLevel(logging.ERROR)

    out = ["English: the article (19 segments) and the Golden Rules (48 cases)", ""]
    rows = []
    for candidate in CANDIDATES:
        seg = Segmenter("en", candidate)
        failed = golden_rules(seg)
        rows.append([label(candidate, "en"), article(seg), f"{48 - len(failed)}/48", ", ".join(map(str, failed))])
    out += table(["candidate", "article: 19 segments right?", "Golden Rules", "cases failed"], rows)

    def sample_cell(seg: Segmenter, lang: str) -> str:
        sentences, total, paragraphs, blocks = samples(seg, lang)
        return f"{sentences}/{total} sent., {paragraphs}/{blocks} para."

    out += ["", "Multilingual samples (sentences produced exactly, paragraphs segmented exactly)", ""]
    out += table(["candidate", *SAMPLE_LANGUAGES], per_language(sample_cell, SAMPLE_LANGUAGES))

    def paragraph_cell(seg: Segmenter, lang: str) -> str:
        exact, missed, boundaries = flores_paragraphs(seg, lang)
        return f"{exact} exact, {missed}/{boundaries} missed"

    languages = tuple(FLORES_FILES)
    title = (
        f"FLORES-200 devtest, {FLORES_GROUP} lines to a paragraph "
        "(lines out of 1012 that come out as exactly one segment; line boundaries missed)"
    )
    out += ["", title, ""]
    out += table(["candidate", *languages], per_language(paragraph_cell, languages))

    def whole_cell(seg: Segmenter, lang: str) -> str:
        kept, total = flores_whole(seg, lang)
        return f"{kept}/{total}"

    out += ["", "FLORES-200 devtest as it is, one paragraph per line (lines kept as one segment)", ""]
    out += table(["candidate", *languages], per_language(whole_cell, languages))
    if args.long:
        out += ["", "FLORES-200 devtest English, longer paragraphs (as above: exact lines, boundaries missed)", ""]
        out += long_paragraphs()
    if args.speed:
        out += ["", *speed()]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
