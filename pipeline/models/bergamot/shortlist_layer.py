"""The lexical shortlist as a torch module: source ids in, allowed target ids out."""

from __future__ import annotations

import torch
from torch import nn

from pipeline.models.bergamot.configuration import BergamotConfig

__all__ = ["ShortlistLayer"]


class ShortlistLayer(nn.Module):
    """Holds a converted ``lex.*.s2t.bin`` (see :mod:`pipeline.models.bergamot.shortlist`) as buffers.

    Buffers ``offsets`` (``int64[vocab + 1]``) and ``targets``
    (``int32[config.shortlist_size]``) are saved in ``model.safetensors``.
    """

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.first_num = config.shortlist_first_num
        self.vocab_size = config.vocab_size
        self.register_buffer("offsets", torch.zeros(config.vocab_size + 1, dtype=torch.long))
        self.register_buffer("targets", torch.zeros(config.shortlist_size, dtype=torch.int32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The batch's shortlist: sorted target ids ``[batch, k]``, every row the union over the batch.

        The union is repeated per row so that ``generate()`` can expand it for
        beams like any other per-sentence tensor. Padded positions are ignored.
        """
        sources = input_ids if attention_mask is None else input_ids[attention_mask.bool()]
        sources = torch.unique(sources)
        starts, ends = self.offsets[sources], self.offsets[sources + 1]
        counts = ends - starts
        # Positions of every candidate of every source id, without a Python loop.
        firsts = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
        positions = firsts + torch.arange(int(counts.sum()), device=sources.device)
        chosen = torch.zeros(self.vocab_size, dtype=torch.bool, device=input_ids.device)
        chosen[: self.first_num] = True
        chosen[self.targets[positions].long()] = True
        # intgemm needs a multiple of 8 columns; Marian tops up with the smallest missing ids.
        missing = torch.nonzero(~chosen[self.first_num :]).squeeze(1) + self.first_num
        chosen[missing[: -int(chosen.sum()) % 8]] = True
        return torch.nonzero(chosen).squeeze(1).unsqueeze(0).expand(input_ids.shape[0], -1)
