"""Reading and writing text files the way every stage needs it.

Reads are strict UTF-8 and say which file and line is broken; writes are
atomic (``mkstemp`` + ``os.replace``), so a killed run never leaves a
half-written file under a final name. A failed write (a file where a folder
should be, a read-only folder, a full disk) is an :class:`OutputError` that
names the path.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pipeline.errors import InputError, OutputError

__all__ = [
    "read_text",
    "read_lines",
    "atomic_writer",
    "publish_folder",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_lines_atomic",
    "check_dir",
    "ensure_dir",
    "output_error",
]


def read_text(path: str | os.PathLike[str] | None, *, allow_empty: bool = False) -> str:
    """Read a whole UTF-8 file, or standard input for ``None`` or ``"-"``.

    Args:
        path: the file, or ``None`` / ``"-"`` for standard input.
        allow_empty: accept a file with no non-space text.

    Returns:
        The text, without a leading byte-order mark; a file whose lines end in a
        lone carriage return (classic Mac OS) gets ``\n`` line ends.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8 (with the line), empty or blank.
    """
    name = "<stdin>" if path in (None, "-") else str(path)
    try:
        if path in (None, "-"):
            data = sys.stdin.buffer.read()
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise InputError(f"file not found: {name}") from err
    except IsADirectoryError as err:
        raise InputError(f"expected a file, got a directory: {name}") from err
    except OSError as err:
        raise InputError(f"cannot read {name}: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{name}: line {line} is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
            hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8",
        ) from err
    text = text.removeprefix("\ufeff")
    if "\r" in text and "\n" not in text:
        # Lines ended by a lone CR (old Mac OS, some exporters): such a file has no LF at all.
        # A CR inside a line of an LF or CRLF file stays text, as sacrebleu reads it.
        text = text.replace("\r", "\n")
    if not allow_empty and not text.strip():
        if not text:
            raise InputError(f"{name} is empty")
        lines = text.count("\n") + (not text.endswith("\n"))
        blank = "its one line is blank" if lines == 1 else f"all {lines} lines are blank"
        raise InputError(f"{name} has no text: {blank}")
    return text


def read_lines(path: str | os.PathLike[str] | None, *, allow_empty: bool = False) -> list[str]:
    """Read a UTF-8 file as a list of lines without their line ends.

    A final newline does not make an extra empty line; empty lines inside are kept,
    since one line is one segment.
    """
    text = read_text(path, allow_empty=allow_empty)
    # splitlines() would also split on U+2028, \x0c, ... which appear inside
    # real segments; only \n (and a \r before it) ends a line here.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@contextmanager
def atomic_writer(path: str | os.PathLike[str], *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` only on success.

    Raises:
        OutputError: the folder cannot be made or written, or the disk is full; the
            temporary file is gone and ``path`` is as it was.
    """
    target = Path(path)
    ensure_dir(target.parent, probe=False)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise output_error(err, target) from err
    try:
        with (open(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline="\n")) as handle:
            # mkstemp makes 0600 files; outputs should get the usual umask-based mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise output_error(err, target) from err
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(text)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, binary=True) as handle:
        handle.write(data)


def write_lines_atomic(path: str | os.PathLike[str], lines: Iterable[str]) -> None:
    """Write one line per item to ``path`` atomically, each ending in a newline."""
    with atomic_writer(path) as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")


def ensure_dir(path: str | os.PathLike[str], what: str = "folder", *, hint: str | None = None,
               probe: bool = True) -> Path:
    """Make ``path`` a folder (with its parents) and, with ``probe``, check that files can be made in it.

    Args:
        path: the folder.
        what: what to call it in a message (``"output folder"``, ``"model store"``).
        hint: the second line of the error, when the caller knows the fix (e.g. the option that sets it).
        probe: create and delete a file in it, which catches a read-only folder before any work.

    Returns:
        The folder.

    Raises:
        OutputError: ``path`` or one of its parents is a file, or the folder cannot be made or written.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if blocker == folder:
            raise OutputError(f"{what} {folder} is a file, not a folder", hint=hint) from err
        if blocker is not None:
            raise OutputError(f"{what} {folder} cannot be made: {blocker} is a file, not a folder", hint=hint) from err
        raise OutputError(f"cannot make {what} {folder}: {err.strerror or err}", hint=hint) from err
    if probe:
        try:
            fd, name = tempfile.mkstemp(prefix=".mtpipe-probe-", dir=folder)
            os.close(fd)
            os.unlink(name)
        except OSError as err:
            raise OutputError(f"cannot write in {what} {folder}: {err.strerror or err}", hint=hint) from err
    return folder


def check_dir(path: str | os.PathLike[str], what: str = "folder", *, hint: str | None = None) -> Path:
    """Check, creating nothing, that ``path`` is a writable folder or can be made one.

    For checks before any work starts, so that a job that fails them leaves no trace.

    Raises:
        OutputError: ``path`` or a parent is a file, or the nearest existing folder is read-only.
    """
    folder = Path(path).expanduser().absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # the root exists
    if not existing.is_dir():
        if existing == folder:
            raise OutputError(f"{what} {folder} is a file, not a folder", hint=hint)
        raise OutputError(f"{what} {folder} cannot be made: {existing} is a file, not a folder", hint=hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = hasattr(os, "statvfs") and bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        reason = os.strerror(errno.EROFS if read_only else errno.EACCES)
        if existing == folder:
            raise OutputError(f"cannot write in {what} {folder}: {reason}", hint=hint)
        raise OutputError(f"cannot make {what} {folder} in {existing}: {reason}", hint=hint)
    return folder


def output_error(err: OSError, path: str | os.PathLike[str], what: str = "", *, hint: str | None = None
                 ) -> OutputError:
    """The one-line :class:`OutputError` for an ``OSError`` raised while writing ``path``."""
    reason = err.strerror or type(err).__name__
    if hint is None and err.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space (or write elsewhere) and run the same command again"
    elif hint is None and err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "write somewhere else, or make the folder writable"
    return OutputError(f"cannot write {what + ' ' if what else ''}{path}: {reason}", hint=hint)


def publish_folder(staging: Path, final: Path, *, usable: Callable[[Path], bool] | None = None) -> None:
    """Put a folder made in ``staging`` (by ``tempfile.mkdtemp`` beside ``final``) in place of ``final``.

    The folder and its files get the permissions a plain ``mkdir`` would give. A folder already
    at ``final`` (a damaged one) is moved aside first, since ``rename`` cannot replace a
    non-empty folder. If the rename fails and ``usable(final)`` says another process has
    published a good one meanwhile, that one is kept.

    Raises:
        OSError: the rename failed and nothing usable is in place.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    for path in staging.iterdir():
        os.chmod(path, 0o666 & ~umask)
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.replace(final, old / final.name)
    try:
        os.replace(staging, final)
    except OSError:
        if usable is None or not usable(final):
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
