"""A model folder's manifest: the size and sha256 of every file, checked before the folder is used.

mtpipe writes :data:`MANIFEST` into each folder it converts. :func:`verify_folder`
refuses a folder whose files are missing, changed (even at the same size), or joined
by files the manifest does not list, so a damaged model is named, never translated
with. Hashing the 75 MB of a Bergamot model takes ~50 ms (far more on a busy machine).
A file whose hash matched is not hashed again while its size, mtime, ctime, inode and
device are unchanged: in this process, and in later ones through :data:`VERIFIED`, a
record beside the manifest of each file's signature when its hash last matched (written
when every file has matched and none changed in the last 2 s). Any write, copy, move or
``touch`` changes the ctime (which a program cannot set), so a changed file is hashed
again; what the record does not see is damage below the file system (a disk corrupting
data in place without any write), which is then found only when a file changes or the
record is deleted. This guards against damage (disk faults, interrupted copies, stray
edits), not against someone able to rewrite both a file and the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from pipeline.errors import ModelError

__all__ = ["MANIFEST", "VERIFIED", "known_sha256", "write_manifest", "verify_folder", "sha256_file"]

log = logging.getLogger(__name__)

MANIFEST = "mtpipe-manifest.json"
# Hidden, so neither the manifest nor the check of unexpected files counts it.
VERIFIED = ".mtpipe-verified.json"
_VERSION = 1
_VERIFIED_VERSION = 1
# (path, expected sha256) -> the file's stat signature when its hash last matched.
_verified: dict[tuple[str, str], tuple[int, ...]] = {}
# path -> (its sha256, its stat signature) when that hash last matched its manifest.
_digests: dict[str, tuple[str, tuple[int, ...]]] = {}
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
        raw = manifest.read_bytes()
        data = json.loads(raw.decode("utf-8"))
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
    manifest_digest = hashlib.sha256(raw).hexdigest()
    recorded = _read_verified(folder, manifest_digest)
    settled = {name: _verify_file(folder / name, size, digest, hint, recorded.get(name))
               for name, (size, digest) in sorted(listed.items())}
    if all(settled.values()) and settled != recorded:
        _write_verified(folder, manifest_digest, settled)


def known_sha256(path: Path) -> str | None:
    """The sha256 :func:`verify_folder` matched for ``path``, if the file is unchanged since; else ``None``."""
    entry = _digests.get(os.path.abspath(path))
    if entry is None:
        return None
    try:
        signature = _signature(path.stat())
    except OSError:
        return None
    return entry[0] if entry[1] == signature else None


def _signature(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _read_verified(folder: Path, manifest_digest: str) -> dict[str, tuple[int, ...]]:
    # The signatures recorded by an earlier process for this very manifest; {} when there are none.
    try:
        data = json.loads((folder / VERIFIED).read_text(encoding="utf-8"))
        if data["version"] != _VERIFIED_VERSION or data["manifest_sha256"] != manifest_digest:
            return {}
        return {str(name): tuple(int(n) for n in sig) for name, sig in data["files"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.debug("ignoring %s: %s", folder / VERIFIED, err)  # every file is hashed instead
        return {}


def _write_verified(folder: Path, manifest_digest: str, signatures: dict[str, tuple[int, ...]]) -> None:
    # Atomically; a folder we cannot write to (a read-only store) is hashed by each process instead.
    data = {"version": _VERIFIED_VERSION, "manifest_sha256": manifest_digest,
            "files": {name: list(sig) for name, sig in signatures.items()}}
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{VERIFIED}.", suffix=".partial")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, folder / VERIFIED)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        log.debug("cannot record the verified files of %s: %s", folder, err)


def _verify_file(path: Path, size: int, digest: str, hint: str,
                 recorded: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    # Returns the file's signature when it is verified and settled (can be trusted while unchanged).
    try:
        stat = path.stat()
    except FileNotFoundError as err:
        raise ModelError(f"model file missing: {path}", hint=hint) from err
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err.strerror or err}", hint=hint) from err
    signature = _signature(stat)
    key = (os.path.abspath(path), digest)
    with _lock:
        if _verified.get(key) == signature:
            return signature
        if recorded == signature and stat.st_size == size:  # verified by an earlier process, unchanged since
            _verified[key] = signature
            _digests[key[0]] = (digest, signature)
            return signature
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
            _digests[key[0]] = (digest, signature)
        return signature
    return None
