"""Does mtpipe's translator scale linearly in time and stay flat in memory?

Usage: python benchmarks/scaling.py [--small 1000] [--large 10000] [--threads T] [--workers W]
                                    [--no-ray] [--engine-lines N] [--chunk-size 256]
                                    [--batch-tokens 2048] [--output FILE]

Streams ``--small`` and then ``--large`` lines (FLORES-200 devtest en, repeated,
read lazily) through ``Translator("bergamot-en-pt").translate_iterable(lines,
"en", "pt-BR", chunk_size=1000)``, writing the translations to a file as they
come, each run in its own child process. Prints the time ratio large/small
(target: between 9 and 11 for 10k/1k) and each run's peak RSS (target: the
large run's at most 1.2 x the small one's).

Then the Ray row: the large run's lines through ``translate_chunks`` (what
``mtpipe run`` does) on the local engine and on the ray engine (a local Ray
instance with an actor per core, started and stopped inside the timing), each
in its own child process. Prints the ray engine's overhead against the local
engine for the same work, in total and without the cluster's start and stop,
and the peak RSS of each child's whole process tree (Ray's daemons and actors
included; shared pages count once per process). ``--no-ray`` leaves it out.
JSON goes to benchmarks/results/scaling.json (gitignored).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, run_child, write_json


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="lines in the small run")
    parser.add_argument("--large", type=int, default=10000, help="lines in the large run")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per worker (default: the Translator's)")
    parser.add_argument("--workers", type=int, default=None, help="worker threads (default: the Translator's)")
    parser.add_argument("--batch-tokens", type=int, default=2048)
    parser.add_argument("--no-ray", action="store_true", help="leave out the local-vs-ray engine row")
    parser.add_argument("--engine-lines", type=int, default=None, help="lines for the engine rows (default: --large)")
    parser.add_argument("--chunk-size", type=int, default=256, help="engine rows: segments per group")
    parser.add_argument("--output", default="scaling.json", help="file name under benchmarks/results/")
    return parser


def engine_rows(count: int, chunk_size: int) -> dict:
    """The same lines through the local engine and the ray engine; the ray engine's overhead."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("local", "ray"):
            out = Path(tmp) / f"{engine}.pt.txt"
            runs[engine] = run_child(["engine", "--engine", engine, "--count", str(count),
                                      "--chunk-size", str(chunk_size), "--output", str(out)])
            runs[engine]["output_sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
            r = runs[engine]
            print(f"engine {engine:5}: {r['seconds']:7.1f} s in all ({r['engine_start_seconds']:.1f} start, "
                  f"{r['translate_seconds']:.1f} translate, {r['engine_stop_seconds']:.1f} stop), "
                  f"{count / r['seconds']:6.1f} sent/s, process tree peak RSS {r['tree_peak_rss_mb']:.0f} MB")
    local, ray = runs["local"], runs["ray"]
    overhead = ray["seconds"] / local["seconds"] - 1
    translate_overhead = ray["translate_seconds"] / local["translate_seconds"] - 1
    same = local["output_sha256"] == ray["output_sha256"]
    print(f"ray engine overhead vs local, {count} lines: {overhead:+.1%} in all, {translate_overhead:+.1%} "
          f"without starting and stopping Ray; outputs {'identical' if same else 'DIFFERENT'}")
    return {"lines": count, "runs": runs, "overhead": round(overhead, 4),
            "translate_overhead": round(translate_overhead, 4), "identical_output": same}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (args.small, args.large):
            out = Path(tmp) / f"{count}.pt.txt"
            layout = [f"--{name}={value}" for name, value in (("threads", args.threads), ("workers", args.workers))
                      if value is not None]
            result = run_child([
                "stream", "--count", str(count), *layout,
                "--batch-tokens", str(args.batch_tokens), "--output", str(out),
            ])
            written = sum(1 for _ in out.open(encoding="utf-8"))
            if written != count:
                raise RuntimeError(f"the {count}-line run wrote {written} lines")
            runs[count] = result
            print(f"{count:>6} lines: {result['seconds']:7.1f} s  {count / result['seconds']:6.1f} sent/s  "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB")
    small, large = runs[args.small], runs[args.large]
    time_ratio = large["seconds"] / small["seconds"]
    rss_ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    print(f"time ratio {args.large}/{args.small} = {time_ratio:.2f} (ideal {args.large / args.small:.0f})  "
          f"peak RSS ratio = {rss_ratio:.2f}")
    engines = {} if args.no_ray else engine_rows(args.engine_lines or args.large, args.chunk_size)
    path = write_json(args.output, {
        "benchmark": "scaling",
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine(),
        "runs": {str(count): {k: v for k, v in r.items()} for count, r in runs.items()},
        "time_ratio": round(time_ratio, 3),
        "peak_rss_ratio": round(rss_ratio, 3),
        "engines": engines,
    })
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
