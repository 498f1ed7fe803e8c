"""A lean greedy decoding loop for the Bergamot models, used by ``generate()`` when it can be.

transformers' ``generate()`` spends most of a step on things this model does
not need: the full-vocabulary output tensor (32000 columns, of which the
shortlist keeps a few hundred to a few thousand), re-gathering the shortlist's
rows of the embedding at every step, argmax over the whole vocabulary, cache
objects and model-output dataclasses. This loop does the same computation in
the same order on the same modules, so at batch size 1 its tokens are those
of transformers' greedy search (and of the native engine):

* the rows of the output matrix for the batch's union of shortlists are
  gathered once per batch, and argmax runs over those columns only, each
  sentence's columns outside its own shortlist set to ``-inf`` (so a sentence
  picks from its own shortlist, as it would alone); the columns are sorted, so
  ties go to the smallest id, as in an argmax over the full vocabulary;
* rows that have produced ``</s>`` leave the batch, so the last steps of a
  batch cost what its unfinished sentences cost. (This changes the shapes of
  the matrix products, not the sums each row's scores are made of: the tests
  and ``benchmarks/batch_invariance.py`` check that a sentence's translation
  is the same in any batch.)

The result has ``generate()``'s shape: ``[batch, 1 + steps]``, starting with
the decoder start token, finished rows padded with ``pad_token_id``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from pipeline.models.bergamot.layers import sinusoid_positions
from pipeline.models.bergamot.shortlist_layer import shortlist_blocked, shortlist_columns

__all__ = ["greedy_decode"]


# no_grad, not inference_mode: like generate()'s output, the result must stay an
# ordinary tensor (callers may edit it in place); the Translator already runs
# generate() under inference_mode.
@torch.no_grad()
def decode_plain(model: Any, input_ids: torch.Tensor, kwargs: dict) -> torch.LongTensor:
    """:func:`greedy_decode` with ``generate()``'s arguments: the attention mask, ``max_new_tokens``
    (default: one past the longest per-row limit) and the generation config's suppressed tokens."""
    from pipeline.models.bergamot.generation import length_limits

    mask = kwargs.get("attention_mask")
    limits = None
    if model.config.max_length_factor > 0:
        limits = length_limits(torch.ones_like(input_ids) if mask is None else mask, model.config.max_length_factor)
    max_new_tokens = kwargs.get("max_new_tokens")
    if max_new_tokens is None:
        max_new_tokens = int(limits.max()) + 1
    suppress = list(model.generation_config.suppress_tokens or [])
    return greedy_decode(model, input_ids, mask, limits, max_new_tokens, suppress)


def greedy_decode(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    limits: torch.Tensor | None,
    max_new_tokens: int,
    suppress: list[int],
) -> torch.Tensor:
    """Greedy search with Marian's per-sentence length limit.

    Args:
        model: a ``BergamotForConditionalGeneration``.
        input_ids: ``[batch, source]`` padded source ids.
        attention_mask: ``[batch, source]``, 1 on real tokens (``None``: no padding).
        limits: ``[batch]`` tokens each sentence may produce before ``</s>`` is forced (``None``: no limit).
        max_new_tokens: the most steps the loop runs.
        suppress: token ids never produced (the generation config's ``suppress_tokens``).

    Returns:
        ``[batch, 1 + steps]`` token ids, as ``generate()`` returns them.
    """
    config = model.config
    base = model.model
    eos, pad, start = config.eos_token_id, config.pad_token_id, config.decoder_start_token_id
    encoded = base.encoder(input_ids, attention_mask)
    hidden_source = encoded.last_hidden_state
    batch, dim = input_ids.shape[0], config.d_model
    scale = math.sqrt(dim)
    embed = base.encoder.embed_tokens
    weight = embed.weight
    if encoded.shortlist is not None:
        ids = shortlist_columns(encoded.shortlist)
        out_weight, out_bias = weight.index_select(0, ids), model.logits_bias.index_select(0, ids)
    else:
        ids = None
        out_weight, out_bias = weight, model.logits_bias
    # Suppressed ids get -inf, as transformers' SuppressTokensLogitsProcessor gives them.
    column_of = ids if ids is not None else torch.arange(weight.shape[0], device=weight.device)
    banned = torch.isin(column_of, torch.tensor(suppress, dtype=column_of.dtype, device=column_of.device))
    penalty = torch.zeros(column_of.shape[0], dtype=hidden_source.dtype, device=hidden_source.device)
    penalty[banned] = -math.inf
    # One bias row per sentence: the output bias, -inf on suppressed ids and on the columns
    # outside the sentence's own shortlist; added inside the matrix product (addmm), so the
    # mask costs no extra pass over the scores.
    row_bias = (out_bias + penalty).expand(batch, -1)
    if ids is not None:
        row_bias = row_bias.masked_fill(shortlist_blocked(encoded.shortlist), -math.inf)
    row_bias = row_bias.contiguous()
    int8_scale = getattr(model, "int8_output", None)
    if int8_scale is not None:  # quantize = "int8-rows" (pipeline.models.bergamot.int8)
        from pipeline.models.bergamot.int8 import row_int8_output

        output_scores = row_int8_output(out_weight, int8_scale)
    else:
        out_weight_t = out_weight.t()

        def output_scores(last: torch.Tensor, row_bias: torch.Tensor) -> torch.Tensor:
            return torch.addmm(row_bias, last, out_weight_t)
    eos_column = None
    if limits is not None:
        found = torch.nonzero(column_of == eos).flatten()
        eos_column = int(found[0]) if found.numel() else None

    if attention_mask is not None:
        bias = (1.0 - attention_mask[:, None, None, :].to(hidden_source.dtype)) * -99999999.0
    else:
        bias = None
    layers = base.decoder.layers
    if bias is not None and layers and layers[0].encoder_attn.wide:  # int8-rows: float64 attention
        bias = bias.double()  # once here rather than in every layer at every step
    kvs = [layer.encoder_attn.project_kv(hidden_source) for layer in layers]
    states: list[torch.Tensor | None] = [None] * len(layers)

    output = torch.full((batch, 1 + max_new_tokens), pad, dtype=torch.long, device=input_ids.device)
    output[:, 0] = start
    rows = torch.arange(batch, device=input_ids.device)  # output rows still decoding
    row_limits = limits
    tokens = None
    steps = 0
    for step in range(max_new_tokens):
        if step == 0:
            # No BOS: Marian's first step sees a zero embedding (plus position 0).
            hidden = torch.zeros((rows.shape[0], 1, dim), dtype=hidden_source.dtype, device=hidden_source.device)
        else:
            hidden = embed(tokens[:, None]) * scale
        hidden = hidden + sinusoid_positions(step, 1, dim).to(hidden)
        for idx, layer in enumerate(layers):
            hidden, states[idx], _ = layer(hidden, states[idx], kvs[idx][0], kvs[idx][1], bias)
        scores = output_scores(hidden[:, -1], row_bias)
        if row_limits is not None:
            done = row_limits <= step
            if bool(done.any()):
                scores[done] = -math.inf
                if eos_column is not None:
                    scores[done, eos_column] = 0.0
        best = scores.argmax(dim=-1)
        tokens = ids[best] if ids is not None else best
        output[rows, step + 1] = tokens
        steps = step + 1
        finished = tokens == eos
        if bool(finished.any()):
            keep = torch.nonzero(~finished).flatten()
            if keep.numel() == 0:
                break
            rows, tokens = rows[keep], tokens[keep]
            states = [state.index_select(0, keep) for state in states]
            kvs = [(keys.index_select(0, keep), values.index_select(0, keep)) for keys, values in kvs]
            bias = bias.index_select(0, keep) if bias is not None else None
            row_bias = row_bias.index_select(0, keep)
            row_limits = row_limits.index_select(0, keep) if row_limits is not None else None
    return output[:, : 1 + steps]
