"""The ``mtpipe`` command: the only place that prints or exits.

Usage example: ``mtpipe translate --src en --tgt pt-BR < article.txt``

The arguments are defined in :mod:`pipeline.cli_args`; here each sub-command
runs its stage, shows progress on stderr and writes results to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli_args import build_parser, engine_config, with_engine_options
from pipeline.errors import ConfigError, OutputError, PipelineError
from pipeline.models.defaults import default_model
from pipeline.progress import Progress, batch_progress
from pipeline.summary import format_summary
from pipeline.textio import check_dir

if TYPE_CHECKING:
    from pipeline.cache import TranslationCache
    from pipeline.config import JobConfig

__all__ = ["ProgressBar", "main", "main_entry"]

log = logging.getLogger("pipeline")


class ProgressBar:
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


@contextmanager
def _progress_bar(args: argparse.Namespace) -> Iterator[ProgressBar]:
    # The command's progress bar (none with -q), closed when the command is done.
    bar = ProgressBar(disable=args.quiet)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def _translation_cache(args: argparse.Namespace) -> Iterator[TranslationCache | None]:
    # The translation cache, or None with --no-cache; closed when the command is done.
    if args.no_cache:
        yield None
        return
    from pipeline.cache import TranslationCache

    cache = TranslationCache()
    try:
        yield cache
    finally:
        cache.close()


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
    from pipeline._autoregister import models_on_demand

    try:
        # The commands load models through pipeline.models, which registers the Bergamot classes itself.
        with _above_progress_bars(args), models_on_demand():
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


def _above_progress_bars(args: argparse.Namespace) -> AbstractContextManager[object]:
    # Log lines go through tqdm.write: above the progress bar, never glued onto it. With -q there
    # is no bar (and tqdm's logging helpers are not imported: ~30 ms of a one-line translation).
    if args.quiet:
        return nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm(loggers=[log])


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
    for text, paragraph in zip(document.texts, document.paragraph_ids, strict=True):
        if previous is not None and paragraph != previous:
            lines.append("")
        lines.append(text)
        previous = paragraph
    _write("".join(line + "\n" for line in lines))
    return 0


def _cmd_translate(args: argparse.Namespace) -> int:
    from pipeline.formats import format_for
    from pipeline.languages import parse_language
    from pipeline.textio import read_lines, read_text

    # Cheap checks first: the input, the language codes and the direction, before the model loads.
    parse_language(args.src), parse_language(args.tgt)
    model = args.model or default_model(args.src, args.tgt)
    stdin = args.file == "-"  # empty standard input: empty output, as for any filter
    fmt = format_for(args.file, args.format)
    glossary = None
    if args.glossary is not None:
        from pipeline.glossary import read_glossary

        glossary = read_glossary(args.glossary)
    prepared = None
    if fmt != "text" or glossary is not None or args.format is not None:
        prepared = _prepare_document(args, fmt, glossary)
        text = lines = None
    else:
        text = read_text(args.file, allow_empty=stdin) if args.segment else None
        lines = None if args.segment else read_lines(args.file, allow_empty=stdin)
    engine = engine_config(args)
    from pipeline.config import SystemConfig
    from pipeline.engines import open_engine

    system = SystemConfig(
        name="translate", model=model, family=args.family, backend=args.backend, beam=args.beam,
        max_length=args.max_length, batch_tokens=args.batch_tokens, device=args.device, dtype=args.dtype,
        threads=args.threads, workers=args.workers, quantize=args.quantize, rerank=args.rerank, nbest=args.nbest,
        nbest_method=args.nbest_method, reverse_model=args.reverse_model,
    )
    if args.rerank is not None:
        from pipeline.backends import backend_for
        from pipeline.rerank import check_spec

        check_spec(args.rerank, args.nbest_method, "--rerank")
        backend_for(model, args.backend).check_options({"rerank": args.rerank}, f"--model {model}")
    with open_engine(engine) as opened:
        translator = opened.translator(system)
        translator.check_direction(args.src, args.tgt)
        if prepared is not None:
            from pipeline.wordalign import aligner_for

            translations = _translate_lines(args, translator, prepared.texts)
            data = prepared.render(translations, tgt_lang=args.tgt, aligner=aligner_for(translator, args.src, args.tgt))
            _log_inline(prepared)
            _emit(args, data)
            return 0
        document = None
        if text is not None:
            from pipeline.segment import Segmenter

            document = Segmenter(args.src).segment(text)
            lines = list(document.texts)
        translations = _translate_lines(args, translator, lines)
    if document is not None:
        result = document.rebuild(translations, tgt_lang=args.tgt)
        _emit(args, (result if result.endswith("\n") or not result else result + "\n").encode("utf-8"))
        return 0
    _emit(args, "".join(line.replace("\n", " ") + "\n" for line in translations).encode("utf-8"))
    return 0


def _prepare_document(args: argparse.Namespace, fmt: str, glossary: Any) -> Any:
    """Read the input in its format and cut it into the sentences to translate."""
    from pipeline.documents import prepare
    from pipeline.formats import FormatOptions, read_document

    options = FormatOptions(src_lang=args.src, tgt_lang=args.tgt, field=args.field, line_length=args.line_length)
    data = sys.stdin.buffer.read() if args.file == "-" else None
    document = read_document("<stdin>" if data is not None else args.file, fmt, options, data=data)
    # A plain text file is cut into sentences only with --segment, as without a glossary.
    return prepare(document, args.src, options=options, split=fmt != "text" or args.segment, glossary=glossary)


def _log_inline(prepared: Any) -> None:
    stats = prepared.stats
    if stats.tags or stats.protected:
        log.info("%s: %d tags placed by %s alignment; %d protected spans, %d put back, %d could not be",
                    prepared.document.name, stats.tags, stats.aligner, stats.protected, stats.protected_fixed,
                    stats.protected_failed)
    if stats.terms_matched:
        level = logging.WARNING if stats.terms_violated else logging.INFO
        log.log(level, "glossary: %d terms matched, %d put in, %d violated", stats.terms_matched,
                   stats.terms_fixed, stats.terms_violated)


def _emit(args: argparse.Namespace, data: bytes) -> None:
    """The result to ``--output`` (atomically) or standard output."""
    if args.output is not None:
        from pipeline.textio import write_bytes_atomic

        write_bytes_atomic(args.output, data)
        return
    try:
        sys.stdout.buffer.write(data) if hasattr(sys.stdout, "buffer") else sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        _drop_stdout()
        raise OutputError(f"cannot write to standard output: {err.strerror or err}") from err


def _translate_lines(args: argparse.Namespace, translator: Any, lines: list[str]) -> list[str]:
    from pipeline.cache import translate_chunks

    if not lines:
        return []
    translations: list[str] = []
    with _translation_cache(args) as cache, _progress_bar(args) as bar:
        bar(Progress("translate", 0, len(lines)))
        with batch_progress(bar, "translate", lambda: len(translations), len(lines)):
            for pairs in translate_chunks(translator, lines, args.src, args.tgt, cache=cache):
                translations.extend(text for _, text in pairs)
                bar(Progress("translate", len(translations), len(lines)))
    return translations


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.align import check_alignment
    from pipeline.evaluate import score_corpus
    from pipeline.metrics import METRIC_NAMES, check_metrics
    from pipeline.reports import render_scores

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else METRIC_NAMES
    check_metrics(metrics)
    options = {}
    if "comet" in metrics:
        from pipeline.comet import CometSettings

        given = {"model": args.comet_model, "python": args.comet_python}
        options["comet"] = CometSettings.from_options({k: v for k, v in given.items() if v is not None})
    hypotheses = _evaluated_lines(args.file, args.tgt)
    references = [_evaluated_lines(path, args.tgt) for path in args.refs]
    names = [args.file if args.file != "-" else "<stdin>", *args.refs]
    sources = None
    if args.source is not None:
        sources = _evaluated_lines(args.source, args.tgt)
        check_alignment(hypotheses, [*references, sources], names=[*names, args.source])
    check_alignment(hypotheses, references, names=names)
    scores = score_corpus(hypotheses, references, args.tgt, metrics, sources=sources, options=options)
    _write(render_scores(args.format, scores))
    return 0


def _evaluated_lines(path: str, tgt_lang: str) -> list[str]:
    """A file's lines, or for a document in another format the text of each of its units."""
    from pipeline.formats import FormatOptions, format_for, read_document
    from pipeline.textio import read_lines

    fmt = format_for(path)
    if fmt == "text":
        return read_lines(path)
    if fmt in ("xliff", "po", "tmx"):
        raise ConfigError(f"{path}: mtpipe evaluate does not read {fmt} files (their translations are targets)",
                          hint="score the job that translated it, or export the targets as text")
    return [unit.text for unit in read_document(path, fmt, FormatOptions(tgt_lang=tgt_lang)).units]


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.jobs import run_job

    config = with_engine_options(args, load_config(args.config))
    if args.out:
        config = dataclasses.replace(config, output_dir=Path(args.out).expanduser().resolve())
    # Before any model loads: the output folder must be a folder, and writable.
    check_dir(config.output_dir, "output folder", hint="choose another with --out, or [output] dir in the job")
    if len(config.systems) > 1:
        return _compare(args, config, out=None)
    with _translation_cache(args) as cache, _progress_bar(args) as bar:
        result = run_job(config, cache=cache, progress=bar)
    _write(format_summary(result))
    log.info("outputs in %s; scores in %s", result.output_dir, result.scores_file)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from pipeline.config import load_config

    config = with_engine_options(args, load_config(args.config))
    check_dir(config.output_dir, "output folder", hint="choose another with [output] dir in the job")
    if args.out:  # checked before any model loads
        check_dir(args.out, "report folder", hint="choose another with --out")
    return _compare(args, config, out=args.out)


def _compare(args: argparse.Namespace, config: JobConfig, out: str | None) -> int:
    from pipeline.compare import compare_job
    from pipeline.reports import render_markdown

    with _translation_cache(args) as cache, _progress_bar(args) as bar:
        job, comparison, files = compare_job(
            config, out_dir=Path(out) if out else None, method=args.method, n=args.samples, seed=args.seed,
            cache=cache, progress=bar,
        )
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
