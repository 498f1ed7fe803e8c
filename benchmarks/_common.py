"""Shared helpers for the speed benchmarks: FLORES paths, child processes, peak RSS, JSON output.

Each measured system runs in its own child process (``python benchmarks/_common.py
SYSTEM ...``), so that its peak RSS (``ru_maxrss`` read in the child) is its own
and one system's warm caches or threads do not help the next.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLORES = ROOT / "corpora" / "flores200-devtest"
SOURCE = FLORES / "eng_Latn.devtest"
REFERENCE = FLORES / "por_Latn.devtest"
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA_VERSION = 1
# Lines translated, and not timed, before the clock starts (model load, first-call costs).
WARMUP_LINES = 16


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ``ru_maxrss`` in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[:limit] if limit else lines


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``python benchmarks/_common.py ARGS`` and return the JSON it prints on its last stdout line."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True, text=True, env=full_env, cwd=ROOT, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_children(arg_lists: list[list[str]]) -> tuple[list[dict], float]:
    """Run several children at once; returns their results and the wall-clock time of the whole."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for args in arg_lists
    ]
    results = []
    for args, proc in zip(arg_lists, procs, strict=True):
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results, time.perf_counter() - start


def bleu(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    return round(metric.corpus_score(hypotheses, [references]).score, 2), str(metric.get_signature())


def paired_against(baseline: list[str], systems: dict[str, list[str]], references: list[str],
                   seed: int = 12345, samples: int = 1000) -> dict[str, dict]:
    """BLEU and chrF of each system, with sacrebleu's paired bootstrap p-value against ``baseline``.

    Returns ``{name: {"bleu", "bleu_p", "chrf", "chrf_p", "identical_lines"}}``; the p-values
    are for "no difference" (small: the system differs significantly from the baseline).
    """
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    sys.path.insert(0, str(ROOT))
    from pipeline.sacrebleu_compat import seed_paired_test

    named = [("baseline", baseline), *systems.items()]
    metrics = {"BLEU": BLEU(references=[references]), "chrF": CHRF(references=[references])}
    test = PairedTest(named, metrics, references=None, test_type="bs", n_samples=samples)
    seed_paired_test(test, seed)
    _, results = test()
    keys = {"BLEU": "bleu", "chrF2": "chrf"}
    out = {}
    for index, (name, hypotheses) in enumerate(named):
        row = {"identical_lines": sum(a == b for a, b in zip(baseline, hypotheses, strict=True))}
        for metric, key in keys.items():
            result = results[metric][index]
            row[key] = round(result.score, 2)
            row[f"{key}_p"] = None if result.p_value is None else round(result.p_value, 4)
        out[name] = row
    return out


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average": os.getloadavg(),
    }


def write_json(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/NAME`` atomically; returns its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    fd, tmp = tempfile.mkstemp(dir=RESULTS, prefix=f".{name}.", suffix=".partial")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"schema_version": SCHEMA_VERSION, **data}, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)
    return path


# --- child side -------------------------------------------------------------------------------


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _child_translator(lines: list[str], options: dict, fast: bool) -> tuple[list[str], float, float]:
    from pipeline.models.bergamot import register_auto

    register_auto()  # before importing the model module directly
    from pipeline.models.bergamot.modeling import BergamotForConditionalGeneration
    from pipeline.translate import Translator

    BergamotForConditionalGeneration.fast_greedy = fast
    return _timed(Translator("bergamot-en-pt", **options), lines)


def _timed(translator: Any, lines: list[str]) -> tuple[list[str], float, float]:
    # A warm-up on the first lines (model load, first calls), then the timed translation of all.
    start = time.perf_counter()
    translator.translate(lines[:WARMUP_LINES], "en", "pt-BR")
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    outputs = translator.translate(lines, "en", "pt-BR")
    return outputs, time.perf_counter() - start, warmup


def _layout(options: dict) -> dict:
    # The threads and workers a Translator with these options ends up with (no model is read).
    from pipeline.translate import Translator

    translator = Translator("bergamot-en-pt", **options)
    return {"threads": translator.threads, "workers": translator.workers}


def _child_native(lines: list[str], threads: int) -> tuple[list[str], float, float]:
    from pipeline.backends.native import NativeTranslator

    return _timed(NativeTranslator(threads=threads), lines)


def _child_hf_generate(lines: list[str], fast: bool) -> tuple[list[str], float, float]:
    # What a new user writes. transformers 5 removed the "translation" pipeline
    # (pipeline("translation", ...) raises KeyError: "The task translation has been
    # removed"), so this is its equivalent by hand: the Auto classes, and
    # generate() with its defaults one line at a time, as the pipeline's default
    # batch_size=1 did.
    import transformers
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import pipeline  # noqa: F401  (registers the bergamot Auto classes)
    from pipeline.models.bergamot import ensure_model, register_auto

    register_auto()
    from pipeline.models.bergamot.modeling import BergamotForConditionalGeneration

    BergamotForConditionalGeneration.fast_greedy = fast
    transformers.logging.set_verbosity_error()
    folder = str(ensure_model("en-pt"))
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=False)

    def translate(text: str) -> str:
        output = model.generate(**tokenizer(text, return_tensors="pt"))
        return tokenizer.decode(output[0], skip_special_tokens=True)

    for text in lines[:WARMUP_LINES]:
        translate(text)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    outputs = [translate(text) for text in lines]
    return outputs, time.perf_counter() - start, warmup


def _child_stream(path: Path, count: int, options: dict, output: Path) -> tuple[float, float]:
    # Streams `count` lines (the file repeated) through translate_iterable into `output`.
    import itertools

    from pipeline.translate import Translator

    translator = Translator("bergamot-en-pt", **options)
    start = time.perf_counter()
    translator.translate(read_lines(path, WARMUP_LINES), "en", "pt-BR")
    warmup = time.perf_counter() - start

    def lazy_lines():
        while True:
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    yield line.rstrip("\n")

    start = time.perf_counter()
    with output.open("w", encoding="utf-8") as out:
        for text in translator.translate_iterable(
            itertools.islice(lazy_lines(), count), "en", "pt-BR", chunk_size=1000
        ):
            out.write(text + "\n")
    return time.perf_counter() - start, warmup


def _tree_rss_mb(root: int) -> float:
    # Resident memory of a process and all its descendants (a local Ray instance's daemons and
    # actors are the driver's descendants). Shared pages count once per process.
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 2**20


class TreeRssSampler:
    """Samples the tree's RSS every ``interval`` seconds in a thread; ``peak_mb`` is the highest seen."""

    def __init__(self, interval: float = 0.5) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))
            self._stop.wait(interval)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))


def _child_engine(path: Path, count: int, engine_name: str, chunk_size: int, output: Path) -> dict:
    # `count` lines (the file repeated) through translate_chunks on an engine, as `mtpipe run` does.
    import itertools

    from pipeline.cache import translate_chunks
    from pipeline.config import EngineConfig, SystemConfig
    from pipeline.engines import open_engine

    lines = list(itertools.islice(itertools.cycle(read_lines(path)), count))
    system = SystemConfig(name="greedy", model="bergamot-en-pt", chunk_size=chunk_size)
    with TreeRssSampler() as sampler:
        start = time.perf_counter()
        with open_engine(EngineConfig(name=engine_name)) as engine:
            opened = time.perf_counter()
            translator = engine.translator(system)
            translator.check_direction("en", "pt-BR")
            with output.open("w", encoding="utf-8") as out:
                for pairs in translate_chunks(translator, lines, "en", "pt-BR", chunk_size=chunk_size):
                    out.writelines(text + "\n" for _, text in pairs)
            translated = time.perf_counter()
        total = time.perf_counter() - start
    return {"lines": count, "engine": engine_name, "chunk_size": chunk_size, "seconds": total,
            "engine_start_seconds": opened - start, "translate_seconds": translated - opened,
            "engine_stop_seconds": total - (translated - start), "tree_peak_rss_mb": round(sampler.peak_mb, 1)}


def child_main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=["translator", "native", "hf-generate", "stream", "engine"])
    parser.add_argument("--engine", choices=["local", "ray"], default="local", help="engine: which")
    parser.add_argument("--chunk-size", type=int, default=256, help="engine: segments per group")
    parser.add_argument("--lines", type=int, default=None)
    parser.add_argument("--skip", type=int, default=0, help="start at this line (for split runs)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the system's own)")
    parser.add_argument("--workers", type=int, default=None, help="translator, stream: worker threads")
    parser.add_argument("--quantize", default=None, help="translator: int8 or int8-rows")
    parser.add_argument("--batch-tokens", type=int, default=2048)
    parser.add_argument("--no-fast", action="store_true",
                        help="translator, hf-generate: transformers' own generate loop")
    parser.add_argument("--count", type=int, default=1000, help="stream: lines to translate")
    parser.add_argument("--output", type=Path, default=None, help="write the translations here")
    args = parser.parse_args(argv)

    options = {"threads": args.threads, "workers": args.workers, "batch_tokens": args.batch_tokens}
    if args.quantize:
        options["quantize"] = args.quantize
    if args.system == "hf-generate" and args.threads is not None:
        _set_threads(args.threads)  # otherwise torch's default, as a new user gets
    rss_before = peak_rss_mb()
    result: dict = {"system": args.system}
    if args.system in ("translator", "stream"):
        result.update(_layout(options))
    elif args.system == "hf-generate":
        import torch

        result["threads"] = torch.get_num_threads()
    else:
        result["threads"] = args.threads
    if args.system == "engine":
        out = args.output or Path(os.devnull)
        result.update(_child_engine(SOURCE, args.count, args.engine, args.chunk_size, out))
    elif args.system == "stream":
        out = args.output or Path(os.devnull)
        seconds, warmup = _child_stream(SOURCE, args.count, options, out)
        result.update(lines=args.count, seconds=seconds, warmup_seconds=warmup)
    else:
        lines = read_lines(SOURCE)[args.skip :]
        lines = lines[: args.lines] if args.lines else lines
        if args.system == "translator":
            outputs, seconds, warmup = _child_translator(lines, options, not args.no_fast)
            result.update(batch_tokens=args.batch_tokens, fast_greedy=not args.no_fast, quantize=args.quantize)
        elif args.system == "native":
            outputs, seconds, warmup = _child_native(lines, args.threads)
        else:
            outputs, seconds, warmup = _child_hf_generate(lines, not args.no_fast)
            result.update(fast_greedy=not args.no_fast)
        result.update(lines=len(lines), seconds=seconds, warmup_seconds=warmup, hypotheses=outputs)
        if args.output:
            args.output.write_text("".join(text + "\n" for text in outputs), encoding="utf-8")
    result.update(peak_rss_mb=round(peak_rss_mb(), 1), rss_at_start_mb=round(rss_before, 1))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(child_main(sys.argv[1:]))
