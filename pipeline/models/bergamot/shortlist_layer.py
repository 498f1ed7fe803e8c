"""The lexical shortlist as a torch module: source ids in, each sentence's allowed target ids out.

Marian gives a whole batch the union of its sentences' shortlists, so a
neighbour's words can enter a sentence's output vocabulary and its
translation depends on the batch it happens to be in. Here every sentence
keeps its own set: the layer returns the batch's union (so that the output
layer still computes each column once per batch) with, per row, ``-1`` in the
columns that row's own shortlist lacks. A row's scores over its allowed
columns are exactly what the row alone would get, so its translation is the
one it gets at batch size 1, in greedy and in beam search.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.models.bergamot.configuration import BergamotConfig

__all__ = ["ShortlistLayer", "shortlist_columns", "shortlist_blocked"]


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

    def chosen(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``bool[batch, vocab]``: each sentence's own shortlist, as Marian builds it for that sentence alone.

        The ids below ``first_num``, the candidates of the sentence's source ids
        (padded positions ignored), then the smallest missing ids ``>= first_num``
        until the count is a multiple of 8 (intgemm's tile width).
        """
        batch = input_ids.shape[0]
        mask = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        # Distinct (row, source id) pairs, without a Python loop.
        rows = torch.arange(batch, device=input_ids.device)[:, None].expand_as(input_ids)
        pairs = torch.unique(torch.stack([rows[mask], input_ids[mask]]), dim=1)
        rows, sources = pairs[0], pairs[1]
        starts, ends = self.offsets[sources], self.offsets[sources + 1]
        counts = ends - starts
        firsts = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
        positions = firsts + torch.arange(int(counts.sum()), device=input_ids.device)
        chosen = torch.zeros((batch, self.vocab_size), dtype=torch.bool, device=input_ids.device)
        chosen[:, : self.first_num] = True
        chosen[torch.repeat_interleave(rows, counts), self.targets[positions].long()] = True
        # Top each row up with its smallest missing ids >= first_num to a multiple of 8.
        wanted = (-chosen.sum(dim=1)) % 8
        missing = ~chosen[:, self.first_num :]
        rank = torch.cumsum(missing, dim=1)
        chosen[:, self.first_num :] |= missing & (rank <= wanted[:, None])
        return chosen

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, k]``: the batch's union of shortlists, sorted, with ``-1`` where a row's own set lacks the id.

        Every row has the same columns, so ``generate()`` can expand the tensor
        for beams like any other per-sentence tensor; see :func:`shortlist_columns`
        and :func:`shortlist_blocked`.
        """
        chosen = self.chosen(input_ids, attention_mask)
        columns = torch.nonzero(chosen.any(dim=0)).squeeze(1)
        own = chosen.index_select(1, columns)
        return torch.where(own, columns[None, :], torch.full_like(columns, -1)[None, :])


def shortlist_columns(shortlist: torch.Tensor) -> torch.Tensor:
    """The target ids of the output layer's columns: the union over the rows (every column has an owner)."""
    return shortlist.amax(dim=0)


def shortlist_blocked(shortlist: torch.Tensor) -> torch.Tensor:
    """``bool[rows, k]``: the columns each row's own shortlist lacks (their scores become ``-inf``)."""
    return shortlist < 0
