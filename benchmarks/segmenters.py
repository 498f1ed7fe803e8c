"""Measure the segmentation backends; prints the Markdown table kept in docs/segmentation.md.

Usage: python benchmarks/segmenters.py [--speed]

Measured for each backend of :data:`pipeline.segment.BACKENDS`, in its default configuration:

* the article corpora/automated-translation-article.en.txt against its hand-written gold
  (tests/data/article.en.segments.txt, 19 segments);
* the English Golden Rules (tests/data/golden_rules_en.json, 48 cases from pySBD);
* the multilingual samples (tests/data/multilingual/*.txt): FLORES-200 paragraphs and
  hand-written ones with abbreviations, numbers and quotes;
* with --speed, the time to segment the 1012 English FLORES devtest lines, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.errors import ConfigError  # noqa: E402
from pipeline.segment import BACKENDS, DEFAULT_BACKEND, Segmenter  # noqa: E402

DATA = ROOT / "tests" / "data"
FLORES_EN = Path(__file__).resolve().parent.parent / "corpora" / "flores200-devtest" / "eng_Latn.devtest"
LANGUAGES = ("pt", "de", "fr", "es", "zh")


def load_samples(path: Path) -> list[list[str]]:
    """Read a sample file: blocks separated by blank lines, one gold sentence per line, '#' comments."""
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if not line.startswith("#")]
    return [block.split("\n") for block in "\n".join(lines).strip().split("\n\n")]


def join_sentences(sentences: list[str], lang: str) -> str:
    """The paragraph a block stands for."""
    return ("" if lang == "zh" else " ").join(sentences)


def article(backend: str) -> str:
    gold = (DATA / "article.en.segments.txt").read_text(encoding="utf-8").splitlines()
    texts = Segmenter("en", backend).segment((DATA / "article.en.txt").read_text(encoding="utf-8")).texts
    right = sum(1 for text in texts if text in gold)
    verdict = "yes" if texts == gold else "no"
    return f"{verdict} ({len(texts)} segments, {right} right)"


def golden_rules(backend: str) -> tuple[str, list[int]]:
    cases = json.loads((DATA / "golden_rules_en.json").read_text(encoding="utf-8"))["cases"]
    segmenter = Segmenter("en", backend)
    failed = [case["id"] for case in cases if segmenter.segment(case["text"]).texts != case["sentences"]]
    return f"{len(cases) - len(failed)}/{len(cases)}", failed


def multilingual(backend: str, lang: str) -> str:
    try:
        segmenter = Segmenter(lang, backend)
    except ConfigError:
        return "unsupported"
    blocks = load_samples(DATA / "multilingual" / f"{lang}.txt")
    sentences = paragraphs = 0
    for gold in blocks:
        texts = segmenter.segment(join_sentences(gold, lang)).texts
        paragraphs += texts == gold
        sentences += len(set(texts) & set(gold))
    total = sum(len(block) for block in blocks)
    return f"{sentences}/{total} sent., {paragraphs}/{len(blocks)} para."


def speed() -> list[str]:
    if not FLORES_EN.exists():
        return [f"- speed: skipped ({FLORES_EN} not found)"]
    lines = [line for line in FLORES_EN.read_text(encoding="utf-8").split("\n") if line]
    # 4 lines to a paragraph, blank lines between, like a long article.
    document = "\n\n".join(" ".join(lines[i : i + 4]) for i in range(0, len(lines), 4))
    seconds = {}
    for backend in BACKENDS:
        segmenter = Segmenter("en", backend)
        started = time.perf_counter()
        segmenter.segment(document)
        seconds[backend] = time.perf_counter() - started
    fastest = min(seconds.values())
    return [f"- {name}: {s:.3f} s for {len(lines)} sentences ({s / fastest:.1f}x the fastest)" for name, s in seconds.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", action="store_true", help="also time the backends on FLORES English")
    args = parser.parse_args(argv)
    header = ["backend", "article: 19 segments right?", "Golden Rules (en)", *LANGUAGES]
    rows = []
    failures = {}
    for backend in BACKENDS:
        rules, failed = golden_rules(backend)
        failures[backend] = failed
        name = f"{backend} (default)" if backend == DEFAULT_BACKEND else backend
        rows.append([name, article(backend), rules, *(multilingual(backend, lang) for lang in LANGUAGES)])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for backend, failed in failures.items():
        print(f"- {backend} fails Golden Rules cases: {', '.join(map(str, failed)) or 'none'}")
    if args.speed:
        print()
        print(*speed(), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
