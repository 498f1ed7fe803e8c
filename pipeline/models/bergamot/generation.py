"""Marian's output length limit, per sentence, as a transformers logits processor."""

from __future__ import annotations

import math

import torch
from transformers import LogitsProcessor

__all__ = ["SourceLengthLimit", "length_limits"]


def length_limits(attention_mask: torch.Tensor, factor: float) -> torch.Tensor:
    """The number of target tokens each sentence may produce before ``</s>``.

    Marian stops a hypothesis once it holds ``factor x source length`` tokens,
    the source counted with its ``</s>``; that is ``ceil(factor * length)``
    tokens. A source that is only ``</s>`` (an empty line) gets nothing, as
    Marian forces ``</s>`` on empty batch entries.

    Args:
        attention_mask: ``[batch, source length]``, 1 on real tokens.
        factor: Marian's ``max-length-factor``.
    """
    lengths = attention_mask.sum(dim=1).tolist()
    limits = [0 if length <= 1 else math.ceil(factor * length) for length in lengths]
    return torch.tensor(limits, dtype=torch.long, device=attention_mask.device)


class SourceLengthLimit(LogitsProcessor):
    """Force ``</s>`` in every row that has produced its sentence's token limit.

    Works for greedy and beam search: rows are ``batch x beams``, beams of a
    sentence adjacent, as ``generate()`` lays them out.

    Args:
        limits: ``[batch]`` target tokens allowed per sentence (see :func:`length_limits`).
        eos_token_id: the id forced at the limit.
        prompt_length: decoder tokens before the first generated one (the start token).
    """

    def __init__(self, limits: torch.Tensor, eos_token_id: int, prompt_length: int = 1) -> None:
        self.limits = limits
        self.eos_token_id = eos_token_id
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids.shape[1] - self.prompt_length
        beams = input_ids.shape[0] // self.limits.shape[0]
        done = self.limits.repeat_interleave(beams) <= generated
        if bool(done.any()):
            scores = scores.clone()
            scores[done] = -math.inf
            scores[done, self.eos_token_id] = 0.0
        return scores
