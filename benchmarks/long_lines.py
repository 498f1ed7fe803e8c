"""Long lines: does splitting stay linear, is nothing lost, does the native engine finish?

Usage: python benchmarks/long_lines.py [--sizes 100000 1000000] [--no-quality] [--native] [--output FILE]

1. ``split_long`` (what the Translator does with a segment longer than the
   model takes) on lines of ``--sizes`` characters, three kinds: FLORES prose,
   the same without punctuation (words only) and without spaces (characters
   only), with bergamot-en-pt's tokenizer as the counter (128 tokens) and the
   default English segmenter. Prints each time and the ratio of the largest
   size to the smallest against the ratio of their lengths (linear: equal).
2. Quality (``--no-quality`` leaves it out): the first 100 FLORES en devtest
   lines joined by spaces into one line, against the same lines one per line,
   translated by bergamot-en-pt: words out and BLEU against the por_Latn
   references joined likewise.
3. ``--native``: ``bergamot-native`` on 5, 10, 20 and 50 KB lines, each in a
   child process with a 900 s timeout: time and words out.

JSON goes to benchmarks/results/long_lines.json (gitignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REFERENCE, ROOT, SOURCE, bleu, machine, read_lines, write_json

KINDS = ("prose", "no-punctuation", "no-spaces")
NATIVE_SIZES = (5_000, 10_000, 20_000, 50_000)
NATIVE_CHILD = """
import sys, time
from pipeline.backends.native import NativeTranslator
size = int(sys.argv[1])
text = " ".join(open(sys.argv[2], encoding="utf-8").read().split())
text = (text * (size // len(text) + 1))[:size].rsplit(" ", 1)[0]
translator = NativeTranslator(threads=1)
translator.check_direction("en", "pt")
start = time.perf_counter()
[out] = translator.translate([text], "en", "pt")
print(time.perf_counter() - start, len(text.split()), len(out.split()))
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="line lengths, characters")
    parser.add_argument("--no-quality", action="store_true", help="leave out the 100-sentence translation")
    parser.add_argument("--native", action="store_true", help="also time the native engine on 5-50 KB lines")
    parser.add_argument("--output", default="long_lines.json", help="file name under benchmarks/results/")
    return parser


def line(kind: str, size: int) -> str:
    flores = " ".join(read_lines(SOURCE))
    unit = {
        "prose": flores,
        "no-punctuation": "".join(c for c in flores if c.isalnum() or c == " "),
        "no-spaces": "".join(flores.split()),
    }[kind]
    return (unit * (size // len(unit) + 1))[:size]


def splitting(sizes: list[int]) -> dict:
    from pipeline.batching import split_long
    from pipeline.segment import Segmenter
    from pipeline.translate import Translator

    translator = Translator("bergamot-en-pt")
    tokenizer = translator.info.tokenizer
    limit = translator.max_source_tokens

    def count(text: str) -> int:
        return len(tokenizer(text)["input_ids"])

    segmenter = Segmenter("en")
    split_long(line("prose", 10_000), limit, count, segmenter=segmenter)  # warm-up: imports, first calls
    rows = {}
    for kind in KINDS:
        rows[kind] = {}
        for size in sizes:
            text = line(kind, size)
            start = time.perf_counter()
            pieces = split_long(text, limit, count, segmenter=segmenter)
            seconds = time.perf_counter() - start
            assert "".join("".join(pieces).split()) == "".join(text.split()), "characters lost"
            rows[kind][size] = {"seconds": round(seconds, 3), "pieces": len(pieces)}
            print(f"split_long {kind:15} {size:>9,} chars: {seconds:6.2f} s, {len(pieces):,} pieces", flush=True)
        small, large = min(sizes), max(sizes)
        ratio = rows[kind][large]["seconds"] / rows[kind][small]["seconds"]
        rows[kind]["ratio"] = round(ratio, 2)
        print(f"split_long {kind:15} time ratio {large:,}/{small:,} chars: {ratio:.1f} (linear: {large / small:.1f})")
    return rows


def quality() -> dict:
    from pipeline.translate import Translator

    translator = Translator("bergamot-en-pt")
    sources, references = read_lines(SOURCE, 100), read_lines(REFERENCE, 100)
    reference = " ".join(references)
    [joined] = translator.translate([" ".join(sources)], "en", "pt")
    one_per_line = " ".join(translator.translate(sources, "en", "pt"))
    result = {}
    for name, text in (("one_line", joined), ("one_per_line", one_per_line)):
        score, _ = bleu([text], [reference])
        result[name] = {"words": len(text.split()), "bleu": round(score, 2)}
    kept = result["one_line"]["words"] / result["one_per_line"]["words"]
    one_line = result["one_line"]
    print(f"100 FLORES sentences on one line: {one_line['words']} words, BLEU {one_line['bleu']:.1f}; "
          f"one per line: {result['one_per_line']['words']} words, BLEU {result['one_per_line']['bleu']:.1f} "
          f"({kept:.1%} of the words)")
    return result


def native() -> dict:
    rows = {}
    for size in NATIVE_SIZES:
        try:
            done = subprocess.run([sys.executable, "-c", NATIVE_CHILD, str(size), str(SOURCE)], capture_output=True,
                                  text=True, timeout=900, cwd=ROOT, check=True)
        except subprocess.TimeoutExpired:
            rows[size] = {"seconds": None}
            print(f"native {size:>6,} chars: no answer in 900 s")
            continue
        seconds, words_in, words_out = done.stdout.split()
        rows[size] = {"seconds": round(float(seconds), 2), "words_in": int(words_in), "words_out": int(words_out)}
        print(f"native {size:>6,} chars: {float(seconds):6.1f} s, {words_in} words in, {words_out} out", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = {"machine": machine(), "split_long": splitting(sorted(args.sizes))}
    if not args.no_quality:
        result["quality"] = quality()
    if args.native:
        result["native"] = native()
    print(f"JSON: {write_json(args.output, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
