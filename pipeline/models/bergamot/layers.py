"""The building blocks of the Bergamot tiny transformer, in float32.

Every block is post-norm ("dan": the sublayer, then residual add, then layer
norm). Operation order follows Marian's so that float32 results match the
native engine token for token.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from pipeline.models.bergamot.configuration import BergamotConfig

__all__ = ["sinusoid_positions", "Attention", "FeedForward", "SSRU", "EncoderLayer", "DecoderLayer"]


@lru_cache(maxsize=8)
def _sinusoid_table(length: int, dim: int) -> torch.Tensor:
    # Marian's table: sin in channels [0, dim/2), cos of the same angles in
    # [dim/2, dim) (concatenated, not interleaved), with the timescale step
    # log(10000) / (dim/2 - 1). Each float32 operation is rounded like C's
    # float maths (computed in float64, then rounded), as the engine does.
    f32 = np.float32
    half = dim // 2
    increment = f32(np.log(f32(10000.0), dtype=np.float64)) / f32(half - 1)
    exponent = np.arange(half, dtype=np.float32) * -increment
    timescales = np.exp(exponent.astype(np.float64)).astype(np.float32)
    angles = np.arange(length, dtype=np.float32)[:, None] * timescales[None, :]
    table = np.concatenate([np.sin(angles.astype(np.float64)), np.cos(angles.astype(np.float64))], axis=1)
    return torch.from_numpy(table.astype(np.float32))


def sinusoid_positions(start: int, length: int, dim: int) -> torch.Tensor:
    """Positional encodings ``[length, dim]`` for positions ``start .. start+length-1``."""
    # Tables are built in chunks of 256 positions so that the cache stays small.
    size = 256 * math.ceil((start + length) / 256)
    return _sinusoid_table(size, dim)[start : start + length]


class Attention(nn.Module):
    """Multi-head dot-product attention with biased projections (no dropout at inference)."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        dim = config.d_model
        self.heads = config.attention_heads
        self.head_dim = dim // self.heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.o_proj = nn.Linear(dim, dim)
        # Set by pipeline.models.bergamot.int8.quantize_rows, so that a sentence's attention does not
        # depend on how far its batch is padded: ``wide``, scores, softmax and context in float64
        # (decoder cross-attention); ``per_sentence``, each sentence attends over its own keys
        # alone, as it would in a batch of one (encoder self-attention).
        self.wide = False
        self.per_sentence = False
        # quantize_rows: q_proj, k_proj and v_proj as one int8 product (self-attention only).
        self.qkv: nn.Module | None = None

    def split_heads(self, states: torch.Tensor) -> torch.Tensor:
        """``[batch, length, dim]`` -> ``[batch, heads, length, head_dim]``."""
        batch, length, _ = states.shape
        return states.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def project_kv(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of ``states``, split into heads (what the cross-attention cache keeps)."""
        keys, values = self.split_heads(self.k_proj(states)), self.split_heads(self.v_proj(states))
        if self.wide:
            # Once here rather than at every decoder step: float64, and the keys already transposed
            # ([batch, heads, head_dim, length]), both contiguous: float64 bmm copies any other layout.
            return keys.double().transpose(-1, -2).contiguous(), values.double().contiguous()
        return keys, values

    def forward(
        self,
        hidden: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``hidden`` to ``keys``/``values``; returns the output and the attention weights.

        ``bias`` is added to the scores (``-inf``-like on padded keys), broadcast
        to ``[batch, heads, queries, keys]``. With ``wide``, ``keys`` are as :meth:`project_kv`
        gives them then (float64, transposed).
        """
        return self._attend(self.split_heads(self.q_proj(hidden)), keys, values, bias)

    def self_attention(self, hidden: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``hidden`` to itself; with ``qkv``, its three projections in one product."""
        if self.qkv is None:
            return self(hidden, *self.project_kv(hidden), bias)
        query, keys, values = (self.split_heads(part) for part in self.qkv(hidden).split(self.o_proj.in_features,
                                                                                            dim=-1))
        return self._attend(query, keys, values, bias)

    def _attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.per_sentence:
            lengths = _lengths(bias, keys.shape[2])
            if lengths is not None:
                return self._per_sentence(query, keys, values, bias, lengths)
        if self.wide or self.per_sentence:  # per_sentence: with padding that is not at the end
            query, keys, values = query.double(), keys.double(), values.double()
            bias = bias.double() if bias is not None else None
        keys_t = keys if self.wide else keys.transpose(-1, -2)
        scores = torch.matmul(query, keys_t) * (1.0 / math.sqrt(self.head_dim))
        if bias is not None:
            scores = scores + bias
        weights = torch.softmax(scores, dim=-1)
        context = torch.matmul(weights, values).transpose(1, 2).flatten(2)
        if self.wide or self.per_sentence:
            context, weights = context.float(), weights.float()
        return self.o_proj(context), weights

    def _per_sentence(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                      bias: torch.Tensor | None, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # Row i over its first lengths[i] keys only, with the same shapes and strides as a batch of one
        # (the padded queries' context stays 0: finite, and masked out wherever it is used as a key).
        batch, heads, queries, _ = query.shape
        context = query.new_zeros((batch, queries, heads * self.head_dim))
        weights = query.new_zeros((batch, heads, queries, keys.shape[2]))
        scale = 1.0 / math.sqrt(self.head_dim)
        for row, length in enumerate(lengths):
            own_query = query[row : row + 1, :, :length] if queries == keys.shape[2] else query[row : row + 1]
            scores = torch.matmul(own_query, keys[row : row + 1, :, :length].transpose(-1, -2)) * scale
            if bias is not None:
                scores = scores + bias[row : row + 1, ..., :length]
            own = torch.softmax(scores, dim=-1)
            own_context = torch.matmul(own, values[row : row + 1, :, :length]).transpose(1, 2).flatten(2)
            context[row, : own_context.shape[1]] = own_context[0]
            weights[row, :, : own.shape[2], :length] = own[0]
        return self.o_proj(context), weights


def _lengths(bias: torch.Tensor | None, keys: int) -> list[int] | None:
    # Each row's number of real keys when the padding is at the end of every row (else None).
    if bias is None:
        return None  # no mask: the float64 path
    real = bias.reshape(bias.shape[0], -1)[:, -keys:] == 0
    lengths = real.sum(dim=1)
    if not bool((real == (torch.arange(keys) < lengths[:, None])).all()):
        return None
    return lengths.tolist()


class FeedForward(nn.Module):
    """``relu(x W1 + b1) W2 + b2``."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.d_model)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # In place: the [tokens, ffn_dim] activation is the biggest tensor of a layer.
        return self.fc2(torch.relu_(self.fc1(hidden)))


class SSRU(nn.Module):
    """Simpler Simple Recurrent Unit (Kim et al., 2019), Marian's ``dec-cell: ssru``.

    ``f = sigmoid(x Wf + bf)``, ``c_t = f * c_{t-1} + (1 - f) * (x W)``,
    output ``relu(c_t)``. The carried state is ``c``, zero before the first step.
    """

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.forget_proj = nn.Linear(config.d_model, config.d_model)
        self.input_proj = nn.Linear(config.d_model, config.d_model, bias=False)
        # quantize_rows: both projections as one int8 product.
        self.fused: nn.Module | None = None

    def forward(self, hidden: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run over ``hidden`` ``[batch, steps, dim]`` from ``state``; returns outputs and the last state."""
        if self.fused is None:
            forget, projected = self.forget_proj(hidden), self.input_proj(hidden)
        else:
            forget, projected = self.fused(hidden).split(self.input_proj.out_features, dim=-1)
        forget = torch.sigmoid(forget)
        update = (1.0 - forget) * projected
        cell = torch.zeros_like(hidden[:, 0]) if state is None else state
        cells = []
        for step in range(hidden.shape[1]):
            cell = forget[:, step] * cell + update[:, step]
            cells.append(cell)
        return torch.relu(torch.stack(cells, dim=1)), cell


class EncoderLayer(nn.Module):
    """Self-attention then FFN, each followed by residual add and layer norm."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.self_attn = Attention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.self_attn.self_attention(hidden, bias)
        hidden = self.self_attn_layer_norm(attended + hidden)
        return self.final_layer_norm(self.ffn(hidden) + hidden), weights


class DecoderLayer(nn.Module):
    """SSRU, cross-attention, FFN; each followed by residual add and layer norm."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.ssru = SSRU(config)
        self.ssru_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.encoder_attn = Attention(config)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden: torch.Tensor,
        state: torch.Tensor | None,
        keys: torch.Tensor,
        values: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One or more target steps; returns hidden states, the new SSRU state and cross-attention weights."""
        recurrent, state = self.ssru(hidden, state)
        hidden = self.ssru_layer_norm(recurrent + hidden)
        attended, weights = self.encoder_attn(hidden, keys, values, bias)
        hidden = self.encoder_attn_layer_norm(attended + hidden)
        return self.final_layer_norm(self.ffn(hidden) + hidden), state, weights
