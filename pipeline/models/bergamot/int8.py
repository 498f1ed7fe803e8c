"""int8 matrix products with a scale per row of activations: ``quantize = "int8-rows"``.

torch's dynamic quantization (``quantize = "int8"``) quantizes a linear layer's
whole input tensor with one scale, taken from its minimum and maximum, and with
7 bits (``reduce_range``). So a sentence's activations are rounded according to
its batch neighbours' (its translation depends on its batch), and the layers
lose quality (on FLORES en->pt: chrF significantly worse than float32).

Here each row (one token's activations) gets its own scale: the row is divided
by its largest absolute value, so every row lies in ``[-1, 1]``; a constant row
holding ``1`` and ``-1`` (``1`` and ``0`` after a ReLU) is put first, so that
the range fbgemm's dynamic product computes over the whole tensor is always
``[-1, 1]`` (``[0, 1]``): the same quantization parameters for every batch, 8
bits, and each row rounded on its own. The integer product of a row does not
depend on the other rows, and the result is scaled back by the row's divisor,
so a sentence's scores are those it gets alone.

The weights of the Bergamot models are Marian's int8 matrices (``W = q / alpha``,
``|q| <= 127``); quantized with the scale ``1 / alpha`` they give back Marian's own
integers, so only the activations are rounded. The output layer (the shortlisted rows of the
embedding, see :mod:`pipeline.models.bergamot.greedy`) runs in int8 as well.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["MODE", "RowInt8Linear", "quantize_rows", "row_int8_output", "weight_scale"]

MODE = "int8-rows"
# What a row of zeros is divided by (any positive number: 0 / it is 0).
_TINY = 1e-30


@contextmanager
def _quiet() -> Iterator[None]:
    # torch 2.13 marks its quantized tensors deprecated (in favour of torchao, not a dependency);
    # the fbgemm operators used here still work, so the notice is noise.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.quantize_per_tensor")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        yield


def weight_scale(weight: torch.Tensor) -> float:
    """The per-tensor scale that quantizes ``weight`` to int8: exact when it holds int8 values times one scale.

    Marian's int8 matrices, dequantized, are multiples of ``1 / alpha`` with ``|q| <= 127``: the
    smallest nonzero magnitude is that step when every entry is a whole multiple of it within
    float32 rounding, and at most 127 of them. Otherwise (another model): ``max |w| / 127``.
    """
    magnitudes = weight.detach().abs()
    step = float(magnitudes.masked_fill(magnitudes == 0, math.inf).amin())
    if not math.isfinite(step):
        return 1.0  # all zeros
    steps = magnitudes / step
    if float(steps.amax()) <= 127.5 and float((steps - steps.round()).abs_().amax()) < 1e-3:
        return step
    return float(magnitudes.amax()) / 127


def _pack(weight: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    # fbgemm's packed int8 weight ([out, in]), no bias: the bias is added after scaling back.
    with _quiet():
        scale = weight_scale(weight) if scale is None else scale
        quantized = torch.quantize_per_tensor(weight.detach().contiguous().float(), scale, 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(quantized, None)


def _range_row(width: int, nonnegative: bool) -> torch.Tensor:
    row = torch.zeros(width)
    row[0] = 1.0
    if not nonnegative:
        row[1] = -1.0
    return row


def _row_product(x: torch.Tensor, packed: torch.Tensor, range_row: torch.Tensor,
                 nonnegative: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # x [rows, in] -> (x W^T with each row quantized on its own, [rows, out]; the rows' divisors [rows, 1]).
    scale = (x.amax(dim=1, keepdim=True) if nonnegative else x.abs().amax(dim=1, keepdim=True)).clamp_min_(_TINY)
    rows = torch.empty((x.shape[0] + 1, x.shape[1]), dtype=x.dtype)
    rows[0] = range_row
    # div, not mul by the reciprocal: the row's largest value becomes exactly 1 (or -1).
    torch.div(x, scale, out=rows[1:])
    return torch.ops.quantized.linear_dynamic(rows, packed, False)[1:], scale


class RowInt8Linear(nn.Module):
    """A float32 ``nn.Linear`` computed in int8, each row of its input with its own scale.

    Args:
        linear: the layer (its weight and bias are read; it is not kept).
        nonnegative: the input is never negative (after a ReLU): rows use the full 8 bits on ``[0, 1]``.
    """

    def __init__(self, linear: nn.Linear, nonnegative: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.nonnegative = nonnegative
        self.scale = weight_scale(linear.weight)
        self.scales = (self.scale,)
        self._packed = _pack(linear.weight, self.scale)
        self.register_buffer("range_row", _range_row(self.in_features, nonnegative), persistent=False)
        bias = linear.bias.detach().clone() if linear.bias is not None else None
        self.register_buffer("bias", bias, persistent=False)

    @classmethod
    def fused(cls, linears: list[nn.Linear]) -> RowInt8Linear:
        """One product for several layers that read the same input (their outputs side by side).

        Each keeps its own weight step (a scale per output channel), so the integers are each
        layer's own; the input is scaled and quantized once instead of once per layer.
        """
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module.in_features = linears[0].in_features
        module.out_features = sum(linear.out_features for linear in linears)
        module.nonnegative = False
        module.scales = tuple(weight_scale(linear.weight) for linear in linears)
        module.scale = None
        weight = torch.cat([linear.weight.detach().float() for linear in linears])
        steps = torch.cat([torch.full((linear.out_features,), step, dtype=torch.float64)
                           for linear, step in zip(linears, module.scales, strict=True)])
        with _quiet():
            quantized = torch.quantize_per_channel(weight, steps, torch.zeros(len(steps), dtype=torch.long), 0,
                                                   torch.qint8)
            module._packed = torch.ops.quantized.linear_prepack(quantized, None)
        module.register_buffer("range_row", _range_row(module.in_features, False), persistent=False)
        bias = torch.cat([linear.bias.detach() if linear.bias is not None else torch.zeros(linear.out_features)
                          for linear in linears])
        module.register_buffer("bias", bias, persistent=False)
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        product, scale = _row_product(x.reshape(-1, self.in_features), self._packed, self.range_row,
                                      self.nonnegative)
        out = torch.addcmul(self.bias, product, scale) if self.bias is not None else product * scale
        return out.view(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, nonnegative={self.nonnegative}"


def row_int8_output(weight: torch.Tensor, scale: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The output layer over ``weight`` (``[columns, dim]``, the shortlist's rows of the embedding) in int8.

    ``scale``: the whole embedding's :func:`weight_scale` (the same for every batch's rows).
    Returns ``scores(hidden [rows, dim], row_bias [rows, columns])``, as
    ``torch.addmm(row_bias, hidden, weight.t())`` computes it in float32.
    """
    packed = _pack(weight, scale)
    range_row = _range_row(weight.shape[1], False)

    def scores(hidden: torch.Tensor, row_bias: torch.Tensor) -> torch.Tensor:
        product, scale = _row_product(hidden, packed, range_row, False)
        return torch.addcmul(row_bias, product, scale)

    return scores


def quantize_rows(model: nn.Module) -> list[str]:
    """Replace every ``nn.Linear`` of ``model`` with a :class:`RowInt8Linear`, in place; returns their names.

    A ``fc2`` whose parent also holds ``fc1`` (a feed-forward block, whose ``fc2`` reads a ReLU's
    output) is marked non-negative only in the Bergamot layers, where that holds. Attention
    computes its scores, softmax and context in float64 (``Attention.wide``). On a Bergamot model
    sets ``model.int8_output`` (the embedding's weight scale), which has
    :func:`~pipeline.models.bergamot.greedy.greedy_decode` run the output layer in int8 too.
    """
    from pipeline.models.bergamot.layers import SSRU, Attention, FeedForward

    # Layers that read the same input share one product: the encoder's query, key and value
    # projections, and the SSRU's two (one row scaling and one input quantization, not 3 or 2).
    for name, module in model.named_modules():
        if isinstance(module, Attention) and name.endswith("self_attn"):
            module.qkv = RowInt8Linear.fused([module.q_proj, module.k_proj, module.v_proj])
        elif isinstance(module, SSRU):
            module.fused = RowInt8Linear.fused([module.forget_proj, module.input_proj])
    replaced = []
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                nonnegative = isinstance(parent, FeedForward) and name == "fc2"
                setattr(parent, name, RowInt8Linear(child, nonnegative=nonnegative))
                replaced.append(f"{parent_name}.{name}" if parent_name else name)
    for name, module in model.named_modules():
        if isinstance(module, Attention):
            if name.endswith("self_attn"):  # the encoder's
                module.per_sentence = True
            else:
                module.wide = True
    embedding = getattr(getattr(getattr(model, "model", None), "encoder", None), "embed_tokens", None)
    if embedding is not None:  # a Bergamot model: its output layer is the embedding's shortlisted rows
        model.int8_output = weight_scale(embedding.weight)
    return replaced
