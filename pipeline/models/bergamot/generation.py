"""Marian's output length limit, per sentence, as a transformers logits processor."""

from __future__ import annotations

import math

import torch
from transformers import LogitsProcessor

__all__ = ["FAST_CONFIG_KEYS", "FAST_KWARGS", "SourceLengthLimit", "length_limits"]

# generate() arguments the lean greedy loop understands; anything else goes to transformers.
FAST_KWARGS = frozenset({"input_ids", "attention_mask", "num_beams", "do_sample", "max_new_tokens", "use_cache"})
# Generation-config fields that may differ from transformers' defaults without changing greedy search.
FAST_CONFIG_KEYS = frozenset({
    "num_beams", "length_penalty", "early_stopping", "suppress_tokens", "pad_token_id", "eos_token_id",
    "bos_token_id", "decoder_start_token_id", "max_length", "forced_eos_token_id", "use_cache",
    "transformers_version", "_from_model_config",
})


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
