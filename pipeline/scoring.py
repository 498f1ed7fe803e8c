"""How likely a model finds a given output for a given input: forced decoding, one forward pass.

Used to rerank n-best lists (the forward score of each candidate, and the
reverse model's score of the source given the candidate: noisy-channel
reranking) and to estimate a translation's quality without a reference.
Each pair is scored in a batch of its own length-sorted neighbours; the padding
is masked, so a pair's score does not depend on its batch. ``labels`` are passed so
that models with a lexical shortlist (Bergamot) score over their whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["sequence_scores", "token_statistics"]


def sequence_scores(translator: Any, src_lang: str, tgt_lang: str, inputs: Sequence[str], outputs: Sequence[str],
                    *, batch_size: int = 32) -> list[float]:
    """The mean log-probability per token (``</s>`` included) of each output given its input.

    Args:
        translator: a transformers-backend :class:`pipeline.translate.Translator` for ``src_lang -> tgt_lang``.
        inputs: source texts.
        outputs: one candidate translation per input.

    Raises:
        LanguageError: the model cannot translate the pair.
    """
    return [row["mean"] for row in token_statistics(translator, src_lang, tgt_lang, inputs, outputs,
                                                     batch_size=batch_size)]


def token_statistics(translator: Any, src_lang: str, tgt_lang: str, inputs: Sequence[str], outputs: Sequence[str],
                     *, batch_size: int = 32) -> list[dict[str, float]]:
    """Token-level statistics of each output given its input, from one forced-decoding pass.

    Each output's tokens (``</s>`` included) give:

    - ``mean``, ``sum``, ``std`` and ``min`` of their log-probabilities (natural log);
    - ``entropy``: the mean entropy (nats) of the model's whole output distribution at each token;
    - ``tokens``: how many tokens were scored.

    Args:
        translator: a transformers-backend :class:`pipeline.translate.Translator` for ``src_lang -> tgt_lang``.
        inputs: source texts.
        outputs: one candidate translation per input.

    Raises:
        LanguageError: the model cannot translate the pair.
    """
    import torch

    direction = translator.check_direction(src_lang, tgt_lang)
    loaded = translator.loaded
    translator.generator.set_direction(direction)
    tokenizer, model = loaded.tokenizer, loaded.model
    if getattr(tokenizer, "tgt_lang", False) is None:
        tokenizer.tgt_lang = direction.tgt_code
    forced = direction.generate_kwargs.get("forced_bos_token_id")
    start = model.config.decoder_start_token_id
    eos = model.generation_config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    pad = tokenizer.pad_token_id
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]) + len(outputs[i]))
    stats: list[dict[str, float]] = [{}] * len(inputs)
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        sources = [tokenizer(direction.prefix + inputs[i], verbose=False)["input_ids"] for i in rows]
        targets = [tokenizer(text_target=outputs[i], add_special_tokens=False, verbose=False)["input_ids"] + [eos]
                   for i in rows]
        lead = [start] + ([forced] if forced is not None else [])
        width_s = max(map(len, sources))
        width_t = max(len(t) for t in targets) + len(lead) - 1
        input_ids = torch.full((len(rows), width_s), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width_s), dtype=torch.long)
        decoder = torch.full((len(rows), width_t), pad, dtype=torch.long)
        labels = torch.full((len(rows), width_t), -100, dtype=torch.long)
        for r, (s, t) in enumerate(zip(sources, targets, strict=True)):
            input_ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
            ids = lead + t
            decoder[r, : len(ids) - 1] = torch.tensor(ids[:-1])
            # Only the output's own tokens are scored, not a forced language token.
            labels[r, len(lead) - 1 : len(ids) - 1] = torch.tensor(ids[len(lead) :])
        with torch.inference_mode():
            logits = model(input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device),
                           decoder_input_ids=decoder.to(model.device), labels=labels.to(model.device),
                           use_cache=False).logits.float().cpu()
            logprobs = torch.log_softmax(logits, dim=-1)
            entropy = torch.special.entr(logprobs.exp()).sum(-1)
            picked = logprobs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        valid = labels != -100
        for r, i in enumerate(rows):
            values = picked[r][valid[r]].double()
            count = int(values.numel())
            if count == 0:
                stats[i] = {"mean": 0.0, "sum": 0.0, "std": 0.0, "min": 0.0, "entropy": 0.0, "tokens": 0.0}
                continue
            mean = float(values.mean())
            stats[i] = {"mean": mean, "sum": float(values.sum()),
                        "std": float(((values - mean) ** 2).mean().sqrt()), "min": float(values.min()),
                        "entropy": float(entropy[r][valid[r]].double().mean()), "tokens": float(count)}
    return stats
