"""Start-up time of the mtpipe command against a bare ``import torch, transformers``.

Usage: python benchmarks/startup.py [--rounds 7] [--store DIR] [--before DIR] [--output FILE]

Times, each as a fresh child process (wall clock from start to exit), in
interleaved rounds (every command once per round, in a shuffled order, so that
a noisy neighbour hits them all):

* ``bare``: ``python -c "import torch, transformers"``;
* ``help``: ``mtpipe --help``;
* ``models-list``: ``mtpipe models list``;
* ``translate``: ``echo "Hello world." | mtpipe -q translate --src en --tgt pt-BR``
  with an empty translation cache (a new file per run), so that the model is
  loaded and run;
* ``translate-cached``: the same line again with a cache that already holds it
  (the model's files are still verified and identified, its weights not read).

* with ``--before DIR``, also ``translate-before``: the same line through the
  ``pipeline`` package of another checkout (e.g. ``git worktree add /tmp/before
  <commit>``), interleaved with the rest, for a before/after ratio in one run.

``mtpipe`` is ``python -m pipeline`` run from this checkout. The embedded model
(``bergamot-en-pt``) is converted into the store (``--store``, default: the
user's model store) before the first round, so no run converts it. Prints each
command's median and its difference and ratio to ``bare``, and the median of the
per-round differences (target: ``translate`` - ``bare`` <= 1.5 s by both) and writes JSON to
benchmarks/results/startup.json (gitignored).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, write_json

LINE = "Hello world.\n"
TARGET_SECONDS = 1.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median of these; at least 5)")
    parser.add_argument("--store", type=Path, default=None,
                        help="model store (default: $MTPIPE_MODEL_STORE or the user's store)")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout whose translate is timed too (translate-before)")
    parser.add_argument("--output", default="startup.json", help="file name under benchmarks/results/")
    return parser


def commands(before: Path | None = None) -> dict[str, tuple[list[str], str | None, Path]]:
    """Each command's argv, standard input and working folder."""
    mtpipe = [sys.executable, "-m", "pipeline"]
    translate = [*mtpipe, "-q", "translate", "--src", "en", "--tgt", "pt-BR"]
    found = {
        "bare": ([sys.executable, "-c", "import torch, transformers"], None, ROOT),
        "help": ([*mtpipe, "--help"], None, ROOT),
        "models-list": ([*mtpipe, "models", "list"], None, ROOT),
        "translate": (translate, LINE, ROOT),
        "translate-cached": (translate, LINE, ROOT),
    }
    if before is not None:
        found["translate-before"] = (translate, LINE, before.resolve())
    return found


def timed(argv: list[str], stdin: str | None, env: dict[str, str], cwd: Path = ROOT) -> tuple[float, str]:
    """Wall seconds of one child process, from start to exit; its standard output."""
    start = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rounds < 5:
        raise SystemExit("--rounds must be at least 5")
    env = dict(os.environ)
    if args.store is not None:
        env["MTPIPE_MODEL_STORE"] = str(args.store)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        warm = tmp_path / "warm.sqlite3"
        # Converts the model when the store lacks it, and puts the line in the cache of the cached runs.
        _, first = timed(commands()["translate"][0], LINE, {**env, "MTPIPE_CACHE": str(warm)})
        print(f"translation: {first.strip()!r}")
        cmds = commands(args.before)
        seconds: dict[str, list[float]] = {name: [] for name in cmds}
        order = list(cmds)
        shuffle = random.Random(15)
        for round_no in range(args.rounds):
            shuffle.shuffle(order)
            for name in order:
                run_env = dict(env)
                if name in ("translate", "translate-before"):
                    run_env["MTPIPE_CACHE"] = str(tmp_path / f"{name}-{round_no}.sqlite3")
                elif name == "translate-cached":
                    run_env["MTPIPE_CACHE"] = str(warm)
                cmd, stdin, cwd = cmds[name]
                elapsed, out = timed(cmd, stdin, run_env, cwd)
                if name.startswith("translate") and out != first:
                    raise RuntimeError(f"{name}: {out!r} differs from the first run's {first!r}")
                seconds[name].append(elapsed)
            print(f"round {round_no + 1}: " + "  ".join(f"{name} {seconds[name][-1]:.2f}" for name in cmds))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    bare = medians["bare"]
    print(f"\nmedians of {args.rounds} interleaved rounds (seconds; difference and ratio to bare):")
    for name, value in medians.items():
        print(f"  {name:17} {value:6.2f}  {value - bare:+6.2f}  x{value / bare:.2f}")
    # Paired within each round too: a neighbour's load changes from round to round, less within one.
    paired = {name: statistics.median(value - base for value, base in zip(values, seconds["bare"], strict=True))
              for name, values in seconds.items()}
    print("medians of the per-round differences to bare: "
          + "  ".join(f"{name} {value:+.2f}" for name, value in paired.items() if name != "bare"))
    over = medians["translate"] - bare
    verdict = "met" if max(over, paired["translate"]) <= TARGET_SECONDS else "NOT met"
    print(f"translate - bare = {over:+.2f} s (medians), {paired['translate']:+.2f} s (per round) "
          f"(target <= {TARGET_SECONDS} s): {verdict}")
    if "translate-before" in medians:
        ratios = [b / a for a, b in zip(seconds["translate"], seconds["translate-before"], strict=True)]
        print(f"translate-before / translate = {medians['translate-before'] / medians['translate']:.2f} (medians), "
              f"{statistics.median(ratios):.2f} (per round)")
    path = write_json(args.output, {
        "benchmark": "startup",
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine(),
        "rounds": args.rounds,
        "before": str(args.before) if args.before else None,
        "seconds": seconds,
        "median_seconds": {name: round(value, 3) for name, value in medians.items()},
        "translate_minus_bare": round(over, 3),
        "per_round_minus_bare": {name: round(value, 3) for name, value in paired.items()},
        "target_met": max(over, paired["translate"]) <= TARGET_SECONDS,
    })
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
