"""Is a segment's translation independent of its batch, the cache, resume and the engine?

Usage: python benchmarks/batch_invariance.py [--lines 1012] [--beam 1] [--no-ray] [--output FILE]

Translates FLORES-200 devtest en->pt-BR with the embedded model through
``mtpipe run`` (a job in a temporary folder, ``--no-cache`` unless said) and
compares, line by line, the job's output with:

* ``alone``: each line translated on its own (batch size 1, one ``Translator``);
* ``twice``: a job whose source is the corpus followed by the corpus reversed
  (every line in other batches, with other neighbours): line i against both copies;
* ``cache``: the cache first filled with every third line (``mtpipe translate``
  over those lines, so they were batched among themselves), then the job with
  that cache: a mix of cached lines and lines batched around the gaps;
* ``resumed``: the job killed with SIGKILL after its first chunks were
  journaled (``chunk_size = 128``), then run again to the end;
* ``ray``: the job on the ray engine (a local Ray instance, 2 actors).

Prints the agreement of each with the plain job (identical lines / lines) and
whether the output files are byte-identical. JSON goes to
benchmarks/results/batch_invariance.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SOURCE, machine, read_lines, write_json

PYTHON = [sys.executable, "-m", "pipeline", "-q"]
STEM = "flores.en-pt-BR.embedded"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1012, help="FLORES devtest lines to use (default: all)")
    parser.add_argument("--beam", type=int, default=1, help="beam size of every run")
    parser.add_argument("--no-ray", action="store_true", help="leave out the ray engine")
    parser.add_argument("--output", default="batch_invariance.json", help="file name under benchmarks/results/")
    return parser


def write_job(folder: Path, source: Path, beam: int, chunk_size: int = 256, engine: str = "local") -> Path:
    job = folder / "job.toml"
    job.write_text(
        f'engine = "{engine}"\n'
        + ("[ray]\nactors = 2\n" if engine == "ray" else "")
        + f'[[corpora]]\nname = "flores"\nsource = "{source}"\nsrc_lang = "en"\ntgt_langs = ["pt-BR"]\n'
        f'[[systems]]\nname = "embedded"\nmodel = "bergamot-en-pt"\nbeam = {beam}\nchunk_size = {chunk_size}\n'
        f'[output]\ndir = "{folder / "out"}"\n',
        encoding="utf-8",
    )
    return job


def run_job(folder: Path, source: Path, beam: int, *extra: str, env: dict | None = None, **options) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    job = write_job(folder, source, beam, **options)
    subprocess.run([*PYTHON, "run", str(job), *extra], check=True, env=env)
    return read_lines(folder / "out" / f"{STEM}.txt")


def chunks_in(journal: Path) -> int:
    """Whole chunks in a task's journal: its end lines."""
    return sum(line.startswith('{"end"') for line in journal.read_text(encoding="utf-8").splitlines())


def agreement(name: str, ours: list[str], base: list[str], seconds: float) -> dict:
    same = sum(a == b for a, b in zip(ours, base, strict=True))
    row = {"check": name, "identical": same, "lines": len(base), "seconds": round(seconds, 1)}
    print(f"{name:8s} {same:5d}/{len(base)} identical ({100 * same / len(base):.2f}%)  {seconds:6.1f} s", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lines = read_lines(SOURCE, args.lines)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "flores.en.txt"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")

        start = time.perf_counter()
        base = run_job(work / "job", source, args.beam, "--no-cache")
        print(f"job      {len(base)} lines in {time.perf_counter() - start:.1f} s", flush=True)

        start = time.perf_counter()
        from pipeline.translate import Translator

        translator = Translator("bergamot-en-pt", beam=args.beam)
        alone = [translator.translate([line], "en", "pt-BR")[0] for line in lines]
        rows.append(agreement("alone", alone, base, time.perf_counter() - start))

        start = time.perf_counter()
        doubled = work / "twice.en.txt"
        doubled.write_text("\n".join(lines + lines[::-1]) + "\n", encoding="utf-8")
        twice = run_job(work / "twice", doubled, args.beam, "--no-cache")
        n = len(lines)
        rows.append(agreement("twice-1", twice[:n], base, time.perf_counter() - start))
        rows.append(agreement("twice-2", twice[n:][::-1], base, 0.0))

        start = time.perf_counter()
        env = {**os.environ, "MTPIPE_CACHE": str(work / "cache.sqlite3")}
        thirds = "\n".join(lines[::3]) + "\n"
        subprocess.run([*PYTHON, "translate", "--src", "en", "--tgt", "pt-BR", "--beam", str(args.beam)],
                       input=thirds, text=True, capture_output=True, check=True, env=env)
        cached = run_job(work / "cache", source, args.beam, env=env)
        rows.append(agreement("cache", cached, base, time.perf_counter() - start))

        start = time.perf_counter()
        folder = work / "resumed"
        folder.mkdir()
        job = write_job(folder, source, args.beam, chunk_size=128)
        journal = folder / "out" / f"{STEM}.partial"
        process = subprocess.Popen([*PYTHON, "run", str(job), "--no-cache"])
        while process.poll() is None:
            if journal.exists() and chunks_in(journal) >= 2:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        process.wait()
        killed = process.returncode == -signal.SIGKILL
        done = chunks_in(journal) if journal.exists() else 0
        subprocess.run([*PYTHON, "run", str(job), "--no-cache"], check=True)
        resumed = read_lines(folder / "out" / f"{STEM}.txt")
        row = agreement("resumed", resumed, base, time.perf_counter() - start)
        row.update(killed=killed, chunks_before_kill=done)
        print(f"         (killed: {killed}, {done} chunks of 128 journaled before the kill)")
        rows.append(row)

        if not args.no_ray:
            start = time.perf_counter()
            on_ray = run_job(work / "ray", source, args.beam, "--no-cache", engine="ray")
            rows.append(agreement("ray", on_ray, base, time.perf_counter() - start))

    everything = all(row["identical"] == row["lines"] for row in rows)
    print("all identical" if everything else "DIFFERENCES FOUND")
    path = write_json(args.output, {"machine": machine(), "lines": len(lines), "beam": args.beam, "rows": rows})
    print(f"JSON: {path}")
    print(json.dumps({"all_identical": everything}))
    return 0 if everything else 1


if __name__ == "__main__":
    sys.exit(main())
