"""Reading and writing text files the way every stage needs it.

Reads are strict UTF-8 and say which file and line is broken; writes are
atomic (``mkstemp`` + ``os.replace``), so a killed run never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from pipeline.errors import InputError

__all__ = ["read_text", "read_lines", "atomic_writer", "write_text_atomic", "write_lines_atomic"]


def read_text(path: str | os.PathLike[str] | None, *, allow_empty: bool = False) -> str:
    """Read a whole UTF-8 file, or standard input for ``None`` or ``"-"``.

    Args:
        path: the file, or ``None`` / ``"-"`` for standard input.
        allow_empty: accept a file with no non-space text.

    Returns:
        The text, without a leading byte-order mark.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8 (with the line), or empty.
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
    if not allow_empty and not text.strip():
        raise InputError(f"{name} is empty")
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
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp makes 0600 files; outputs should get the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with io.open(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(text)


def write_lines_atomic(path: str | os.PathLike[str], lines: Iterable[str]) -> None:
    """Write one line per item to ``path`` atomically, each ending in a newline."""
    with atomic_writer(path) as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
