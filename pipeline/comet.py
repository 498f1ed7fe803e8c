"""COMET as a metric: unbabel-comet's segment scores, computed in COMET's own Python environment.

unbabel-comet (2.2.7, the newest) requires ``transformers<5``, ``numpy<2``,
``huggingface-hub<1`` and ``protobuf<5``; mtpipe runs on transformers 5. So
COMET lives in an environment of its own, and mtpipe runs
:mod:`pipeline.comet_worker` there as a subprocess, for all the segments of a
set at once. Set it up once::

    python3 -m venv .venv-comet
    .venv-comet/bin/pip install torch==2.13.0 unbabel-comet 'setuptools<81'

and point mtpipe at it with ``$MTPIPE_COMET_PYTHON`` or ``[comet] python = ...``
in a job (``setuptools<81``: COMET's torchmetrics 0.10 still imports
``pkg_resources``).

The model is a hub id (``Unbabel/wmt22-comet-da``, downloaded by COMET when
online) or a local checkpoint: a ``model.ckpt`` file, or the folder holding
``hparams.yaml`` and ``checkpoints/model.ckpt``.

Scores are reported x100 (a segment's COMET of 0.8531 counts as 85.31); a
corpus score is the mean of its segments'. Each set is scored once per process
(the scores are kept by source, hypothesis and reference), so the corpus
score and the significance tests see the same numbers. The signature names
the model, the checkpoint's SHA-256 (first 12 digits) and COMET's version.
COMET batches sentences sorted by length; its scores then differ from
one-at-a-time scoring by about 1e-7, and rerunning a job gives the same ones.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputError, ModelError

__all__ = [
    "COMET_PYTHON_ENV",
    "DEFAULT_MODEL",
    "SETUP",
    "CometRun",
    "CometSettings",
    "comet_metric",
    "score_segments",
]

log = logging.getLogger(__name__)

COMET_PYTHON_ENV = "MTPIPE_COMET_PYTHON"
"""The environment variable naming COMET's Python interpreter."""

DEFAULT_MODEL = "Unbabel/wmt22-comet-da"

SETUP = (
    "python3 -m venv .venv-comet && .venv-comet/bin/pip install torch==2.13.0 unbabel-comet 'setuptools<81', "
    f"then {COMET_PYTHON_ENV}=.venv-comet/bin/python (or python = ... under [comet] in the job)"
)
"""How to make COMET's environment, for error hints."""

_WORKER = Path(__file__).with_name("comet_worker.py")
_OPTION_TYPES = {"model": str, "python": str, "batch_size": int}


@dataclass(frozen=True)
class CometSettings:
    """Which COMET model scores, and in which Python.

    Attributes:
        model: a hub id, or an absolute path to a checkpoint file or folder.
        python: COMET's interpreter; ``None``: ``$MTPIPE_COMET_PYTHON``.
        batch_size: sentences per COMET batch.
    """

    model: str = DEFAULT_MODEL
    python: str | None = None
    batch_size: int = 16

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None, base: Path | None = None) -> CometSettings:
        """Settings from a job's ``[comet]`` table (or the command line's options).

        Args:
            options: ``model``, ``python`` and ``batch_size``, all optional.
            base: relative paths are taken from here (the job file's folder); ``None``: the current folder.

        Raises:
            ConfigError: an unknown key, a value of the wrong type, or a batch size below 1.
        """
        options = dict(options or {})
        for key, value in options.items():
            if key not in _OPTION_TYPES:
                raise ConfigError(f"[comet]: unknown key {key!r} (known: {', '.join(_OPTION_TYPES)})")
            wanted = _OPTION_TYPES[key]
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise ConfigError(f"[comet] {key} must be a {wanted.__name__}, got {value!r}")
        if options.get("batch_size", 1) < 1:
            raise ConfigError(f"[comet] batch_size must be at least 1, got {options['batch_size']}")
        model = options.get("model", DEFAULT_MODEL)
        local = (base or Path.cwd()) / Path(model).expanduser()
        if local.exists() or _looks_like_path(model):
            if not local.exists():
                raise ConfigError(f"COMET model: no such checkpoint file or folder: {local}")
            model = str(local.resolve())
        python = options.get("python")
        if python is not None and ("/" in python or python.startswith("~")):  # else a command on the PATH
            python = str((base or Path.cwd()) / Path(python).expanduser())
        return cls(model=model, python=python, batch_size=options.get("batch_size", 16))

    @property
    def model_name(self) -> str:
        """The model as the signature names it: the hub id, or a local checkpoint's folder name."""
        if not Path(self.model).is_absolute():
            return self.model
        path = Path(self.model)
        if path.suffix == ".ckpt":  # <name>/checkpoints/model.ckpt
            path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        return path.name

    def interpreter(self) -> str:
        """COMET's Python: :attr:`python`, else ``$MTPIPE_COMET_PYTHON``.

        Raises:
            ConfigError: neither is set, or it names no program.
        """
        python = self.python or os.environ.get(COMET_PYTHON_ENV, "").strip()
        if not python:
            raise ConfigError(
                "the COMET metric needs unbabel-comet in its own Python environment (it requires transformers<5)",
                hint=SETUP,
            )
        path = Path(python).expanduser() if "/" in python else Path(shutil.which(python) or python)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"COMET's Python {python} is not an executable file", hint=SETUP)
        return str(path)


def _looks_like_path(name: str) -> bool:
    """Whether a name can only be a local file (a hub id is ``org/name``: no ``.``, ``/`` or ``~`` in front)."""
    return name.startswith((".", "/", "~")) or name.endswith(".ckpt") or "\\" in name


@dataclass(frozen=True)
class CometRun:
    """One set's COMET scores (0-1 each, as COMET gives them) and what made them."""

    scores: list[float]
    checkpoint_sha256: str
    comet_version: str


_SCORES: dict[tuple[str, str, int], dict[tuple[str, str, str], float]] = {}
_PROVENANCE: dict[tuple[str, str, int], tuple[str, str]] = {}


def score_segments(
    sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str], settings: CometSettings
) -> CometRun:
    """COMET's score of every segment, running COMET once for the segments this process has not scored yet.

    Raises:
        InputError: the three lists differ in length.
        ConfigError: COMET's Python is missing or lacks unbabel-comet.
        ModelError: the model is not found, does not load, or COMET fails.
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise InputError(f"COMET needs one source and one reference per hypothesis: got {len(sources)} sources, "
                         f"{len(hypotheses)} hypotheses and {len(references)} references")
    python = settings.interpreter()
    key = (python, settings.model, settings.batch_size)
    known = _SCORES.setdefault(key, {})
    triples = list(zip(sources, hypotheses, references, strict=True))
    missing = list(dict.fromkeys(t for t in triples if t not in known))
    if missing:
        result = _run_worker(python, settings, missing)
        known.update(zip(missing, result["scores"], strict=True))
        _PROVENANCE[key] = (result["checkpoint_sha256"], result["comet_version"])
    sha, version = _PROVENANCE[key]
    return CometRun([known[t] for t in triples], sha, version)


def _run_worker(python: str, settings: CometSettings, triples: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Run :mod:`pipeline.comet_worker` in COMET's Python on ``triples``; its parsed response."""
    with tempfile.TemporaryDirectory(prefix="mtpipe-comet-") as tmp:
        request, response = Path(tmp, "request.json"), Path(tmp, "response.json")
        src, mt, ref = (list(column) for column in zip(*triples, strict=True))
        request.write_text(json.dumps({"model": settings.model, "batch_size": settings.batch_size,
                                       "src": src, "mt": mt, "ref": ref}), encoding="utf-8")
        log.info("COMET (%s) scores %d segments in %s", settings.model_name, len(triples), python)
        # -I: the worker's folder (this package's) must not shadow COMET's own imports.
        done = subprocess.run([python, "-I", str(_WORKER), str(request), str(response)],
                              capture_output=True, text=True, check=False)
        result = json.loads(response.read_text(encoding="utf-8")) if response.is_file() else None
    if result is None or done.returncode != 0:
        if result and result.get("error") == "not-installed":
            raise ConfigError(result["message"], hint=SETUP)
        if result and "message" in result:
            raise ModelError(result["message"])
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise ModelError(f"COMET failed in {python} (exit status {done.returncode}): {last}")
    if len(result["scores"]) != len(triples):
        raise ModelError(f"COMET returned {len(result['scores'])} scores for {len(triples)} segments")
    return result


def comet_metric(
    settings: CometSettings, sources: Sequence[str], references: Sequence[Sequence[str]] | None = None
) -> Any:
    """A sacrebleu metric object whose scores are COMET's (x100): for ``corpus_score`` and ``PairedTest``.

    Args:
        settings: the model and COMET's Python.
        sources: one source per segment, in the order of the hypotheses it will score.
        references: one stream per reference, kept for every system it scores; COMET uses the first.
    """
    return _comet_class()(settings, sources, references)


@cache
def _comet_class() -> type:
    """sacrebleu's ``Metric`` with COMET's segment scores as its statistics (made on first use)."""
    from sacrebleu.metrics.base import Metric, Score, Signature

    class CometSignature(Signature):
        def __init__(self, args: dict) -> None:
            super().__init__(args)
            self._abbr.update({"model": "m", "ckpt": "ck", "comet": "c"})
            sha = args.get("checkpoint_sha256")
            self.info.update(model=args["model_name"], ckpt=sha[:12] if sha else None,
                             comet=args.get("comet_version"))

    class CometScore(Score):
        def __init__(self, score: float) -> None:
            super().__init__("COMET", score)

    class Comet(Metric):
        _SIGNATURE_TYPE = CometSignature

        def __init__(self, settings: CometSettings, sources: Sequence[str],
                     references: Sequence[Sequence[str]] | None) -> None:
            super().__init__()
            self.settings = settings
            self.sources = list(sources)
            self.model_name = settings.model_name
            self.checkpoint_sha256: str | None = None
            self.comet_version: str | None = None
            self.num_refs = 1
            if references is not None:
                self._ref_cache = self._cache_references(references)

        def _cache_references(self, references: Sequence[Sequence[str]]) -> list[Any]:
            if len(references) > 1:
                log.warning("COMET scores against one reference: the first of %d is used", len(references))
            cache = super()._cache_references(references[:1])
            return cache

        def _preprocess_segment(self, sent: str) -> str:
            return sent  # COMET tokenizes for itself

        def _extract_reference_info(self, refs: Sequence[str]) -> dict[str, Any]:
            return {"ref": refs[0] if refs else ""}

        def _compute_segment_statistics(self, hypothesis: str, ref_kwargs: dict) -> list[Any]:
            raise NotImplementedError("COMET scores whole sets (see _extract_corpus_statistics)")

        def _extract_corpus_statistics(self, hypotheses: Sequence[str], references: Any) -> Any:
            cache = self._cache_references(references) if references else self._ref_cache
            if not cache:
                raise InputError("COMET needs references")
            if len(hypotheses) != len(self.sources):
                raise InputError(f"COMET has {len(self.sources)} sources for {len(hypotheses)} hypotheses")
            run = score_segments(self.sources, hypotheses, [line["ref"] for line in cache], self.settings)
            self.checkpoint_sha256, self.comet_version = run.checkpoint_sha256, run.comet_version
            return [[score, 1.0] for score in run.scores]

        def _compute_score_from_stats(self, stats: Sequence[float]) -> Any:
            return CometScore(100.0 * float(stats[0]) / float(stats[1]))

        def _aggregate_and_compute(self, stats: Sequence[Sequence[float]]) -> Any:
            return self._compute_score_from_stats([sum(column) for column in zip(*stats, strict=True)])

        def sentence_score(self, hypothesis: str, references: Sequence[str]) -> Any:
            raise ConfigError("COMET gives corpus scores here; its segment scores come with the corpus score")

    return Comet
