"""The decoding cache: SSRU states plus cross-attention keys and values.

The decoder has no self-attention, so nothing grows with the target length:
each layer carries one ``[batch, dim]`` SSRU state (a transformers
``LinearAttentionLayer`` recurrent state) and the encoder-side keys/values,
computed once at the first step (a ``DynamicLayer``). Both are reordered by
``reorder_cache`` during beam search, which is how transformers 5.x
``generate()`` keeps a cache in step with its beams.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer, EncoderDecoderCache, LinearAttentionLayer

__all__ = ["BergamotCache"]


class BergamotCache(EncoderDecoderCache):
    """Per-layer SSRU states (``self_attention_cache``) and cross-attention K/V (``cross_attention_cache``).

    Args:
        num_layers: decoder layers.
    """

    def __init__(self, num_layers: int) -> None:
        super().__init__(*_empty_caches(num_layers))
        # Target positions seen so far; every row advances together, also under beam reordering.
        self.steps = 0

    def ssru_state(self, layer_idx: int) -> torch.Tensor | None:
        """The layer's SSRU state ``[batch, dim]``, or ``None`` before the first step."""
        layer = self.self_attention_cache.layers[layer_idx]
        return layer.recurrent_states[0] if layer.is_recurrent_states_initialized[0] else None

    def update_ssru_state(self, layer_idx: int, state: torch.Tensor) -> None:
        """Store the layer's SSRU state after the current step."""
        self.self_attention_cache.update_recurrent_state(state, layer_idx)

    def cross_kv(self, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The layer's cached encoder keys and values, or ``None`` before the first step."""
        if not self.is_updated.get(layer_idx, False):
            return None
        layer = self.cross_attention_cache.layers[layer_idx]
        return layer.keys, layer.values

    def set_cross_kv(self, layer_idx: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Store the layer's encoder keys and values, once per source batch."""
        self.cross_attention_cache.update(keys, values, layer_idx)
        self.is_updated[layer_idx] = True

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Target positions already processed (the position of the next step)."""
        return self.steps

    def reset(self) -> None:
        """Forget everything, ready for a new source batch (of any size)."""
        # Fresh layers rather than zeroed ones: a zeroed DynamicLayer would be appended to.
        self.self_attention_cache, self.cross_attention_cache = _empty_caches(len(self.self_attention_cache.layers))
        self.is_updated = {}
        self.steps = 0


def _empty_caches(num_layers: int) -> tuple[Cache, Cache]:
    return (
        Cache(layers=[LinearAttentionLayer() for _ in range(num_layers)]),
        Cache(layers=[DynamicLayer() for _ in range(num_layers)]),
    )
