"""Job files: TOML in, frozen dataclasses out.

Unknown keys are rejected with a "did you mean"; relative paths resolve
against the folder of the config file; every error names the file and the key.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomllib

from pipeline.backends import backend_for
from pipeline.engines import ENGINES
from pipeline.errors import ConfigError, InputError, PipelineError
from pipeline.languages import parse_language
from pipeline.metrics import METRIC_NAMES, METRICS, check_metrics
from pipeline.models import DTYPES, QUANTIZE
from pipeline.outputs import Task, check_name, check_output_names
from pipeline.textio import read_text

__all__ = ["CorpusConfig", "SystemConfig", "EngineConfig", "JobConfig", "INT_RANGES", "check_int", "load_config",
           "parse_config", "targets"]

DEVICES = ("cpu", "cuda", "auto")
# The valid values of every whole-number setting, in a job file and on the command line. The upper
# bounds are far beyond any useful value; they stop a typo such as beam = 2**63 from reaching torch
# as an overflow or a petabyte allocation.
INT_RANGES: dict[str, tuple[int, int]] = {
    "beam": (1, 256),
    "max_length": (1, 16_384),
    "batch_tokens": (1, 1_048_576),
    "threads": (1, 1024),
    "workers": (1, 1024),
    "chunk_size": (1, 1_000_000),
    "actors": (1, 100_000),
    "line_length": (8, 1000),
    "nbest": (1, 256),
}


@dataclass(frozen=True)
class CorpusConfig:
    """One test set: a source file and its references per target language."""

    name: str
    source: Path | None
    src_lang: str
    segment: bool = False
    references: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    tgt_langs: tuple[str, ...] = ()
    segmenter: str = "auto"  # pipeline.segment.DEFAULT_BACKEND: the measured best per language
    sacrebleu: str | None = None  # a sacrebleu test set name, read through sacrebleu's downloader
    format: str | None = None  # a pipeline.formats name; None: from the source's extension (text: as before)
    field: str | None = None  # jsonl: the key; tsv: the column
    line_length: int = 42  # subtitles: the longest rewrapped line
    glossary: Path | None = None  # a TSV of terms to enforce (pipeline.glossary)
    lines: tuple[int, int] | None = None  # only lines first..last (1-based, inclusive) of a line corpus

    @property
    def document_format(self) -> str | None:
        """The format the source is read with as a document, or None for plain lines / a segmented text.

        A plain text source becomes a document only when a glossary is given.
        """
        from pipeline.formats import format_for

        fmt = format_for(self.source, self.format) if self.source is not None else "text"
        return fmt if fmt != "text" or self.glossary is not None else None

    @property
    def document_suffix(self) -> bool | str:
        """What names the task's document file: a format's extension, True for a segmented text, else False."""
        fmt = self.document_format
        if fmt is None:
            return self.segment
        suffix = self.source.suffix.lower() if self.source is not None else ""
        return suffix if suffix and suffix != ".txt" or fmt == "text" else f".{fmt}"


@dataclass(frozen=True)
class SystemConfig:
    """One system: a model plus its decoding settings."""

    name: str
    model: str
    family: str | None = None
    backend: str | None = None  # a pipeline.backends name; None: the one the model names, else transformers
    beam: int = 1
    max_length: int | None = None
    batch_tokens: int = 2048
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    workers: int | None = None
    quantize: str | None = None
    tgt_langs: tuple[str, ...] = ()
    chunk_size: int = 256  # segments sorted, batched and journaled together
    rerank: str | None = None  # "tuned" or features with weights ("forward+reverse:0.5"): pipeline.rerank
    nbest: int = 8  # candidates per segment when reranking
    nbest_method: str = "beam"  # beam, or sample (seeded epsilon sampling)
    reverse_model: str | None = None  # the reverse direction's model (default: the built-in one)
    qe: bool = False  # write a reference-free quality estimate per segment (pipeline.rerank.quality_estimates)
    qe_threshold: float = 0.5  # segments whose estimate is below it are marked "check"


@dataclass(frozen=True)
class EngineConfig:
    """Where translation runs: ``local`` (this process) or ``ray`` (a Ray cluster, its ``[ray]`` table)."""

    name: str = "local"
    address: str | None = None  # ray: a running cluster; None starts a local instance for the run
    actors: int | None = None  # ray: the actor pool's size (None: as many as the cluster's CPUs or GPUs hold)
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0

    def with_options(self, name: str | None = None, address: str | None = None, actors: int | None = None
                     ) -> EngineConfig:
        """This config with the command line's ``--engine``, ``--address`` and ``--actors`` on top."""
        return replace(self, name=name or self.name, address=address or self.address, actors=actors or self.actors)


@dataclass(frozen=True)
class JobConfig:
    """A whole job: where it came from, its corpora, its systems, its output folder and its engine."""

    path: Path
    corpora: tuple[CorpusConfig, ...]
    systems: tuple[SystemConfig, ...]
    output_dir: Path
    engine: EngineConfig = EngineConfig()
    metrics: tuple[str, ...] = METRIC_NAMES  # what every task is scored with
    metric_options: Mapping[str, Any] = field(default_factory=dict)  # by metric name: {"comet": CometSettings}

    @property
    def name(self) -> str:
        """The job's name: the config file's stem."""
        return self.path.stem


# key -> (required, python types accepted)
_TOP_KEYS = {
    "corpora": (True, list), "systems": (True, list), "output": (False, dict), "engine": (False, str),
    "ray": (False, dict), "metrics": (False, list), "comet": (False, dict),
}
_OUTPUT_KEYS = {"dir": (False, str)}
_RAY_KEYS = {"address": (False, str), "actors": (False, int), "cpus_per_actor": (False, (int, float)),
             "gpus_per_actor": (False, (int, float))}
_CORPUS_KEYS = {
    "name": (True, str),
    "source": (False, str),
    "flores": (False, str),
    "split": (False, str),
    "sacrebleu": (False, str),
    "src_lang": (True, str),
    "segment": (False, bool),
    "references": (False, dict),
    "tgt_langs": (False, list),
    "segmenter": (False, str),
    "format": (False, str),
    "field": (False, str),
    "line_length": (False, int),
    "glossary": (False, str),
    "lines": (False, list),
}
_SYSTEM_KEYS = {
    "name": (True, str),
    "model": (True, str),
    "family": (False, str),
    "backend": (False, str),
    "beam": (False, int),
    "max_length": (False, int),
    "batch_tokens": (False, int),
    "device": (False, str),
    "dtype": (False, str),
    "threads": (False, int),
    "workers": (False, int),
    "quantize": (False, str),
    "tgt_langs": (False, list),
    "chunk_size": (False, int),
    "rerank": (False, str),
    "nbest": (False, int),
    "nbest_method": (False, str),
    "reverse_model": (False, str),
    "qe": (False, bool),
    "qe_threshold": (False, (int, float)),
}


def load_config(path: str | Path) -> JobConfig:
    """Read and validate a TOML job file.

    Raises:
        ConfigError: the file is missing, is not TOML, or has a bad key or value.
    """
    path = Path(path)
    try:
        # An empty file is read as an empty job, which then names the missing keys.
        text = read_text(path, allow_empty=True)
    except InputError as err:  # "file not found: x" -> "config file not found: x"
        raise ConfigError(f"config {err}", hint=err.hint) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> JobConfig:
    """Validate an already parsed job; ``path`` anchors relative paths and names errors."""
    path = Path(path).resolve()
    base = path.parent
    _check_keys(data, _TOP_KEYS, f"{path.name}")
    output = data.get("output", {})
    _check_keys(output, _OUTPUT_KEYS, f"{path.name}: [output]")
    corpora = tuple(_corpus(item, i, base, path.name) for i, item in enumerate(data["corpora"]))
    systems = tuple(_system(item, i, path.name) for i, item in enumerate(data["systems"]))
    if not corpora:
        raise ConfigError(f"{path.name}: no [[corpora]]")
    if not systems:
        raise ConfigError(f"{path.name}: no [[systems]]")
    _unique([c.name for c in corpora], "corpus", path.name)
    _unique([s.name for s in systems], "system", path.name)
    # Names become file names: no two tasks may write one file, none may be too long for one.
    check_output_names((Task(corpus.name, corpus.src_lang, tgt, system.name, corpus.document_suffix)
                        for system in systems for corpus in corpora for tgt in targets(corpus, system)), path.name)
    out_dir = Path(output["dir"]) if "dir" in output else Path("runs") / path.stem
    metrics, options = _metrics(data, base, path.name)
    return JobConfig(path=path, corpora=corpora, systems=systems, output_dir=_resolve(base, out_dir),
                     engine=_engine(data, path.name), metrics=metrics, metric_options=options)


def _metrics(data: dict[str, Any], base: Path, where: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The job's ``metrics`` list (default: BLEU, chrF, chrF++ and TER) and the ``[comet]`` settings."""
    names = data.get("metrics", list(METRIC_NAMES))
    if not names or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{where}: metrics must be a list of metric names (known: {', '.join(METRICS)})")
    try:
        check_metrics(names)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err.message}") from err
    options: dict[str, Any] = {}
    if "comet" in data and "comet" not in names:
        raise ConfigError(f"{where}: [comet] is set but 'comet' is not in metrics")
    if "comet" in names:
        from pipeline.comet import CometSettings

        try:
            options["comet"] = CometSettings.from_options(data.get("comet"), base)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err.message}", hint=err.hint) from err
    return tuple(dict.fromkeys(names)), options


def targets(corpus: CorpusConfig, system: SystemConfig) -> list[str]:
    """The target languages that ``system`` translates ``corpus`` into."""
    if not system.tgt_langs:
        return list(corpus.tgt_langs)
    return [lang for lang in corpus.tgt_langs if lang in system.tgt_langs]


def _engine(data: dict[str, Any], where: str) -> EngineConfig:
    name = data.get("engine", "local")
    if name not in ENGINES:
        raise ConfigError(f"{where}: engine {name!r} is not one of {', '.join(ENGINES)}")
    ray = data.get("ray", {})
    _check_keys(ray, _RAY_KEYS, f"{where}: [ray]")
    if "actors" in ray:
        check_int("actors", ray["actors"], f"{where}: [ray]")
    for key in ("cpus_per_actor", "gpus_per_actor"):
        if key in ray and not (math.isfinite(ray[key]) and ray[key] >= 0):
            raise ConfigError(f"{where}: [ray] {key} must be a number of at least 0, got {ray[key]}")
    if ray.get("cpus_per_actor", 1) == 0 and ray.get("gpus_per_actor", 0) == 0:
        raise ConfigError(f"{where}: [ray] an actor needs at least some CPU or GPU")
    return EngineConfig(name=name, **{key: value for key, value in ray.items()})


def _corpus(item: Any, index: int, base: Path, where: str) -> CorpusConfig:
    context = f"{where}: [[corpora]] #{index + 1}"
    if not isinstance(item, dict):
        raise ConfigError(f"{context}: expected a table")
    _check_keys(item, _CORPUS_KEYS, context)
    check_name(item["name"], "corpus", where)
    context = f"{where}: corpus {item['name']!r}"
    src_lang = _language(item["src_lang"], f"{context}: src_lang")
    references: dict[str, tuple[Path, ...]] = {}
    for lang, value in item.get("references", {}).items():
        files = [value] if isinstance(value, str) else value
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{context}: references.{lang} must be a path or a list of paths")
        references[_language(lang, f"{context}: references key")] = tuple(_resolve(base, Path(f)) for f in files)
    tgt_langs = tuple(_language(code, f"{context}: tgt_langs") for code in item.get("tgt_langs", []))
    if not references and not tgt_langs:
        raise ConfigError(
            f"{context}: no target language",
            hint='add references = { "pt-BR" = "ref.txt" } or tgt_langs = ["pt-BR"]',
        )
    all_tgts = tuple(dict.fromkeys([*references, *tgt_langs]))
    kinds = [key for key in ("source", "flores", "sacrebleu") if key in item]
    if len(kinds) != 1:
        raise ConfigError(
            f"{context}: give exactly one of source, flores or sacrebleu (got {', '.join(kinds) or 'none'})",
            hint='source = "file.txt", or flores = "path/to/flores200-devtest", or sacrebleu = "wmt22"',
        )
    source: Path | None = None
    if "source" in item:
        source = _resolve(base, Path(item["source"]))
    elif "flores" in item:
        # FLORES-200 folders hold one file per language: <alpha3>_<Script>.<split>.
        folder, split = _resolve(base, Path(item["flores"])), item.get("split", "devtest")
        source = folder / f"{_flores_code(src_lang)}.{split}"
        for lang in all_tgts:
            if lang not in references:
                references[lang] = (folder / f"{_flores_code(lang)}.{split}",)
    return CorpusConfig(
        name=item["name"],
        source=source,
        src_lang=src_lang,
        segment=item.get("segment", False),
        references=references,
        tgt_langs=all_tgts,
        segmenter=item.get("segmenter", "auto"),
        sacrebleu=item.get("sacrebleu"),
        format=_format(item.get("format"), context),
        field=item.get("field"),
        line_length=check_int("line_length", item.get("line_length", 42), context),
        glossary=_resolve(base, Path(item["glossary"])) if "glossary" in item else None,
        lines=_lines(item.get("lines"), item, context),
    )


def _lines(value: Any, item: dict[str, Any], context: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not 1 <= value[0] <= value[1]):
        raise ConfigError(f"{context}: lines must be [first, last], whole numbers with 1 <= first <= last, "
                          f"got {value!r}", hint="lines = [507, 1012]: the last 506 lines of FLORES devtest")
    if item.get("segment") or item.get("format") not in (None, "text"):
        raise ConfigError(f"{context}: lines picks lines of a plain line corpus, not of a document")
    return value[0], value[1]


def _format(name: str | None, context: str) -> str | None:
    from pipeline.formats import FORMATS

    if name is not None and name not in FORMATS:
        raise ConfigError(f"{context}: unknown format {name!r} (known: {', '.join(sorted(FORMATS))})")
    return name


def _flores_code(tag: str) -> str:
    language = parse_language(tag)
    return f"{language.alpha3}_{language.script}"


def _system(item: Any, index: int, where: str) -> SystemConfig:
    context = f"{where}: [[systems]] #{index + 1}"
    if not isinstance(item, dict):
        raise ConfigError(f"{context}: expected a table")
    _check_keys(item, _SYSTEM_KEYS, context)
    check_name(item["name"], "system", where)
    context = f"{where}: system {item['name']!r}"
    for key in ("beam", "batch_tokens", "max_length", "threads", "workers", "chunk_size", "nbest"):
        if key in item:
            check_int(key, item[key], context)
    try:
        backend = backend_for(item["model"], item.get("backend"))
    except ConfigError as err:
        raise ConfigError(f"{context}: {err.message}", hint=err.hint) from err
    backend.check_options(item, context)
    for key, allowed in (("device", DEVICES), ("dtype", DTYPES), ("quantize", QUANTIZE)):
        if key in item and item[key] not in allowed:
            raise ConfigError(f"{context}: {key} {item[key]!r} is not one of {', '.join(allowed)}")
    if "rerank" in item:
        from pipeline.rerank import check_spec

        check_spec(item["rerank"], item.get("nbest_method", "beam"), context)
    fields = {k: v for k, v in item.items() if k != "tgt_langs"}
    tgt_langs = tuple(_language(code, f"{context}: tgt_langs") for code in item.get("tgt_langs", []))
    return SystemConfig(**fields, tgt_langs=tgt_langs)


def _check_keys(table: Any, schema: dict[str, tuple[bool, Any]], context: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{context}: expected a table")
    for key, value in table.items():
        if key not in schema:
            close = difflib.get_close_matches(key, schema, n=1)
            suggestion = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(schema)})"
            raise ConfigError(f"{context}: unknown key {key!r}{suggestion}")
        expected = schema[key][1]
        # bool is an int in Python; a flag must not pass for a number or back.
        kinds = expected if isinstance(expected, tuple) else (expected,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            if key in INT_RANGES:
                check_int(key, value, context)
            raise ConfigError(f"{context}: {key} must be a {_type_name(expected)}, got {value!r}")
        if expected is list and key.endswith("_langs") and not all(isinstance(code, str) for code in value):
            raise ConfigError(f"{context}: {key} must be a list of language codes in quotes, got {value!r}",
                              hint='for example tgt_langs = ["pt-BR", "de"]')
    missing = [key for key, (required, _) in schema.items() if required and key not in table]
    if missing:
        raise ConfigError(f"{context}: missing key {missing[0]!r}")


def check_int(key: str, value: Any, context: str = "") -> int:
    """``value`` if it is a whole number in ``INT_RANGES[key]``.

    Raises:
        ConfigError: it is not, naming the key, the valid range and the value.
    """
    low, high = INT_RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        where = f"{context}: " if context else ""
        raise ConfigError(f"{where}{key} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return "number"
    return {str: "string", int: "whole number", bool: "true/false", list: "list", dict: "table"}[kind]


def _language(code: str, context: str) -> str:
    try:
        return parse_language(code).tag
    except PipelineError as err:
        raise ConfigError(f"{context}: {err}", hint=err.hint) from err


def _resolve(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


_PLURALS = {"corpus": "corpora", "system": "systems"}


def _unique(names: list[str], kind: str, where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{where}: two {_PLURALS[kind]} are named {name!r}; names must be unique")
        seen.add(name)
