"""The encoder and decoder stacks of the Bergamot tiny transformer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from pipeline.models.bergamot.cache import BergamotCache
from pipeline.models.bergamot.configuration import BergamotConfig
from pipeline.models.bergamot.layers import DecoderLayer, EncoderLayer, sinusoid_positions
from pipeline.models.bergamot.shortlist_layer import ShortlistLayer

__all__ = ["BergamotEncoderOutput", "BergamotEncoder", "BergamotDecoder"]

# Marian's additive mask value for padded keys (finite, so fp16 would not overflow).
_MASKED = -99999999.0


@dataclass
class BergamotEncoderOutput(BaseModelOutput):
    """Encoder output plus each sentence's shortlist (``[batch, k]``, see ``ShortlistLayer``; or ``None``)."""

    shortlist: torch.LongTensor | None = None


def _key_bias(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    # [batch, source] -> [batch, 1 (heads), 1 (queries), source]
    if attention_mask is None:
        return None
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * _MASKED


class BergamotEncoder(nn.Module):
    """Embeddings x sqrt(d_model) + sinusoids, then post-norm self-attention layers."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))
        self.shortlist = ShortlistLayer(config) if config.shortlist_size else None

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BergamotEncoderOutput:
        """Encode a padded batch; the output also carries the batch's shortlist when it is enabled.

        ``return_dict`` is accepted because ``generate()`` passes it; the result is always a ``ModelOutput``.
        """
        dim = self.config.d_model
        hidden = self.embed_tokens(input_ids) * math.sqrt(dim)
        hidden = hidden + sinusoid_positions(0, input_ids.shape[1], dim).to(hidden)
        bias = _key_bias(attention_mask, hidden.dtype)
        states, attentions = [hidden], []
        for layer in self.layers:
            hidden, weights = layer(hidden, bias)
            states.append(hidden)
            attentions.append(weights)
        shortlist = None
        if self.shortlist is not None and self.config.use_shortlist:
            shortlist = self.shortlist(input_ids, attention_mask)
        return BergamotEncoderOutput(
            last_hidden_state=hidden,
            hidden_states=tuple(states) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
            shortlist=shortlist,
        )


class BergamotDecoder(nn.Module):
    """SSRU decoder layers; borrows the shared embedding at call time."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))

    def forward(
        self,
        input_ids: torch.LongTensor,
        embed_tokens: nn.Embedding,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: BergamotCache | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        """Run ``input_ids`` (the whole target prefix, or the new steps after ``cache``).

        Returns the last hidden states and, if asked, all hidden states and cross-attention weights.
        """
        dim = self.config.d_model
        start = cache.steps if cache is not None else 0
        hidden = embed_tokens(input_ids) * math.sqrt(dim)
        if start == 0:
            # No BOS: Marian's first step sees a zero embedding (plus position 0).
            hidden = torch.cat([torch.zeros_like(hidden[:, :1]), hidden[:, 1:]], dim=1)
        hidden = hidden + sinusoid_positions(start, input_ids.shape[1], dim).to(hidden)
        bias = _key_bias(encoder_attention_mask, hidden.dtype)
        states, attentions = [hidden], []
        for idx, layer in enumerate(self.layers):
            kv = cache.cross_kv(idx) if cache is not None else None
            if kv is None:
                kv = layer.encoder_attn.project_kv(encoder_hidden_states)
                if cache is not None:
                    cache.set_cross_kv(idx, *kv)
            state = cache.ssru_state(idx) if cache is not None else None
            hidden, state, weights = layer(hidden, state, kv[0], kv[1], bias)
            if cache is not None:
                cache.update_ssru_state(idx, state)
            states.append(hidden)
            attentions.append(weights)
        if cache is not None:
            cache.steps += input_ids.shape[1]
        return (
            hidden,
            tuple(states) if output_hidden_states else None,
            tuple(attentions) if output_attentions else None,
        )
