"""A model folder's manifest: the size and sha256 of every file, checked before the folder is used.

mtpipe writes :data:`MANIFEST` into each folder it converts. :func:`verify_folder`
refuses a folder whose files are missing, changed (even at the same size), or joined
by files the manifest does not list, so a damaged model is named, never translated
with. Hashing the 75 MB of a Bergamot model takes ~50 ms; a file already verified in
this process is not hashed again while its size, mtime, ctime and inode are unchanged.
This guards against damage (disk faults, interrupted copies, stray edits), not
against someone able to rewrite both a file and the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from pipeline.errors import ModelError

__all__ = ["MANIFEST", "write_manifest", "verify_folder", "sha256_file"]

MANIFEST = "mtpipe-manifest.json"
_VERSION = 1
# (path, expected sha256) -> the file's stat signature when its hash last matched.
_verified: dict[tuple[str, str], tuple[int, ...]] = {}
# File times tick coarsely (a few ms), so a write just after a check can leave them
# unchanged: a file changed this recently is hashed every time (as git treats a
# "racily clean" file).
_SETTLED_NS = 2_000_000_000
_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> Path:
    """Record the size and sha256 of every file in ``folder`` (not hidden files) in its manifest."""
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST and not path.name.startswith(".")
    }
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps({"manifest_version": _VERSION, "files": files}, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_folder(folder: Path, *, hint: str) -> None:
    """Check every file of ``folder`` against its manifest.

    Args:
        folder: a folder holding :data:`MANIFEST`.
        hint: how to fix a damaged folder, for the error.

    Raises:
        ModelError: the manifest is missing or unreadable, a file is missing, has
            another size or content, or is not listed; the message names the file.
    """
    manifest = folder / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        listed = {name: (int(entry["bytes"]), str(entry["sha256"])) for name, entry in data["files"].items()}
        if data["manifest_version"] != _VERSION or not listed:
            raise ValueError("not a manifest this mtpipe writes")
    except FileNotFoundError as err:
        raise ModelError(f"model file missing: {manifest}", hint=hint) from err
    except OSError as err:
        raise ModelError(f"cannot read model file {manifest}: {err.strerror or err}", hint=hint) from err
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ModelError(f"model file is corrupted: {manifest} ({err})", hint=hint) from err
    try:
        present = {p.name for p in folder.iterdir() if not p.name.startswith(".")} - {MANIFEST}
    except OSError as err:
        raise ModelError(f"cannot read model folder {folder}: {err.strerror or err}", hint=hint) from err
    unexpected = sorted(present - set(listed))
    if unexpected:
        raise ModelError(f"unexpected file in model folder: {folder / unexpected[0]} (not in {MANIFEST})", hint=hint)
    for name, (size, digest) in sorted(listed.items()):
        _verify_file(folder / name, size, digest, hint)


def _verify_file(path: Path, size: int, digest: str, hint: str) -> None:
    try:
        stat = path.stat()
    except FileNotFoundError as err:
        raise ModelError(f"model file missing: {path}", hint=hint) from err
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err.strerror or err}", hint=hint) from err
    signature = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
    key = (os.path.abspath(path), digest)
    with _lock:
        if _verified.get(key) == signature:
            return
    if stat.st_size != size:
        raise ModelError(f"model file is corrupted: {path} has {stat.st_size} bytes, {MANIFEST} records {size}",
                         hint=hint)
    try:
        actual = sha256_file(path)
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err.strerror or err}", hint=hint) from err
    if actual != digest:
        raise ModelError(f"model file is corrupted: {path} (its sha256 differs from the one in {MANIFEST})", hint=hint)
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _SETTLED_NS:
        with _lock:
            _verified[key] = signature
