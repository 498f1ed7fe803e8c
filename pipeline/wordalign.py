"""Word alignment between a sentence and its translation, read from the model's own cross-attention.

After a segment is translated, the model is run once more in teacher-forcing
mode over its own output, and the cross-attention weights say which source
token each target token was produced from. Bergamot students are trained with
guided alignment on their last decoder layer (as Marian does for HTML), so
there the weights are a real word alignment; for other models they are a
usable approximation. :mod:`pipeline.inline` uses the alignment to put inline
markup, protected text and glossary terms back in place.

Words are runs of letters and digits, or single punctuation marks, so that a
tag around "the mat" in "on the mat." does not swallow the full stop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["AttentionAligner", "Aligner", "DiagonalAligner", "WordAlignment", "aligner_for", "words"]

_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")


def words(text: str) -> list[tuple[int, int]]:
    """The character spans of ``text``'s words and punctuation marks, in order."""
    return [match.span() for match in _WORD.finditer(text)]


@dataclass(frozen=True)
class WordAlignment:
    """Which source word each target word comes from, and the reverse.

    Attributes:
        source_words: character spans of the source's words.
        target_words: character spans of the target's words.
        weights: ``weights[t][s]``, how much target word ``t`` attends to source word ``s``.
        target_text: the translation the target spans point into.
    """

    source_words: list[tuple[int, int]]
    target_words: list[tuple[int, int]]
    weights: list[list[float]]
    target_text: str

    def source_of(self, t: int) -> int | None:
        """The source word that target word ``t`` attends to most (None: no source words)."""
        row = self.weights[t]
        return max(range(len(row)), key=row.__getitem__) if row else None

    def target_of(self, s: int) -> int | None:
        """The target word that attends most to source word ``s`` (None: no target words)."""
        if not self.weights:
            return None
        return max(range(len(self.weights)), key=lambda t: self.weights[t][s])


class Aligner(Protocol):
    """Aligns sentences with their translations."""

    name: str

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[WordAlignment]:
        """One :class:`WordAlignment` per pair."""
        ...


class DiagonalAligner:
    """Word ``t`` of the target aligned with the word at the same relative position in the source.

    The fallback when no model can be asked (the native engine): monotonic, often wrong
    on reordering, but it keeps every tag and protected span in a well-formed place.
    """

    name = "diagonal"

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[WordAlignment]:
        out = []
        for source, target in zip(sources, targets, strict=True):
            src, tgt = words(source), words(target)
            weights = [[-abs((t + 0.5) / len(tgt) - (s + 0.5) / len(src)) for s in range(len(src))]
                       for t in range(len(tgt))]
            out.append(WordAlignment(src, tgt, weights, target))
        return out


class AttentionAligner:
    """Alignment from a transformers seq2seq model's cross-attention, by forced decoding.

    Args:
        model: the loaded transformers model.
        tokenizer: its tokenizer, set for the direction (``src_lang``...).
        prefix: the direction's source prefix (``>>por<< ``), not part of any word.
        forced_bos: the target-language token the decoder starts with, if any (NLLB, M2M100).
        layer: which decoder layer's cross-attention to read (-1: the last, where guided alignment is trained).
        head: which head (None: the mean of all heads).
    """

    name = "attention"

    def __init__(self, model: Any, tokenizer: Any, *, prefix: str = "", forced_bos: int | None = None,
                 layer: int = -1, head: int | None = None) -> None:
        self.model, self.tokenizer, self.prefix, self.forced_bos = model, tokenizer, prefix, forced_bos
        self.layer, self.head = layer, head

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[WordAlignment]:
        pairs = list(zip(sources, targets, strict=True))
        if not pairs:
            return []
        # transformers' sdpa and flash kernels return no attention weights: eager attention for the
        # forced pass, then the model's own implementation back (translation is over by now).
        current = getattr(self.model.config, "_attn_implementation", None)
        switch = current not in (None, "eager") and hasattr(self.model, "set_attn_implementation")
        if switch:
            self.model.set_attn_implementation("eager")
        try:
            return [self._one(source, target) for source, target in pairs]
        finally:
            if switch:
                self.model.set_attn_implementation(current)

    def _one(self, source: str, target: str) -> WordAlignment:
        import torch

        src_words, tgt_words = words(source), words(target)
        if not src_words or not tgt_words:
            return WordAlignment(src_words, tgt_words, [[0.0] * len(src_words) for _ in tgt_words], target)
        tokenizer = self.tokenizer
        src_ids = tokenizer(self.prefix + source, verbose=False)["input_ids"]
        tgt_ids = tokenizer(text_target=target, add_special_tokens=False, verbose=False)["input_ids"]
        start = self.model.config.decoder_start_token_id
        lead = [start] + ([self.forced_bos] if self.forced_bos is not None else [])
        decoder_ids = lead + tgt_ids[:-1] if tgt_ids else lead
        with torch.inference_mode():
            output = self.model(
                input_ids=torch.tensor([src_ids], device=self.model.device),
                attention_mask=torch.ones((1, len(src_ids)), dtype=torch.long, device=self.model.device),
                decoder_input_ids=torch.tensor([decoder_ids], device=self.model.device),
                output_attentions=True,
                use_cache=False,
            )
        attention = output.cross_attentions[self.layer][0]  # [heads, target, source]
        matrix = attention.mean(0) if self.head is None else attention[self.head]
        rows = matrix[len(lead) - 1 : len(lead) - 1 + len(tgt_ids)].float().tolist()
        src_map = _token_words(self.prefix + source, tokenizer.convert_ids_to_tokens(src_ids), src_words,
                               offset=len(self.prefix), special=set(tokenizer.all_special_ids), ids=src_ids)
        tgt_map = _token_words(target, tokenizer.convert_ids_to_tokens(tgt_ids), tgt_words, offset=0,
                               special=set(tokenizer.all_special_ids), ids=tgt_ids)
        weights = [[0.0] * len(src_words) for _ in tgt_words]
        for t_token, t_word in enumerate(tgt_map):
            if t_word is None:
                continue
            for s_token, s_word in enumerate(src_map):
                if s_word is not None:
                    weights[t_word][s_word] += rows[t_token][s_token]
        return WordAlignment(src_words, tgt_words, weights, target)


def _token_words(text: str, pieces: Sequence[str], spans: list[tuple[int, int]], *, offset: int,
                 special: set[int], ids: Sequence[int]) -> list[int | None]:
    """The word (index into ``spans``, offsets relative to ``text[offset:]``) each token falls in, if any.

    Tokens are found in the text left to right; a piece that cannot be found
    (normalised away, a byte fallback) takes the word of the token before it.
    """
    out: list[int | None] = []
    cursor, previous = 0, None
    for piece, token in zip(pieces, ids, strict=True):
        if token in special:
            out.append(None)
            continue
        surface = piece.replace("\u2581", " ").replace("Ġ", " ").strip()
        found = text.find(surface, cursor) if surface else -1
        # A few characters may be skipped: what an unknown token or a normalised one stood for.
        if found < 0 or len(text[cursor:found].strip()) > 4:
            out.append(previous if cursor > offset else None)
            continue
        cursor = found + len(surface)
        if cursor <= offset:
            out.append(None)
            continue
        at = found - offset
        word = next((n for n, (start, end) in enumerate(spans) if start <= at < end or at < start), None)
        previous = word
        out.append(word)
    return out


def aligner_for(translator: Any, src_lang: str, tgt_lang: str) -> Aligner:
    """The best aligner a translator offers: its model's cross-attention, else :class:`DiagonalAligner`.

    A translator running on the transformers backend in this process has its model
    at hand; the native engine and Ray actors do not, and get the diagonal fallback.
    """
    generator = getattr(translator, "generator", None)
    if generator is None or not hasattr(generator, "set_direction"):
        return DiagonalAligner()
    direction = translator.check_direction(src_lang, tgt_lang)
    loaded = translator.loaded
    generator.set_direction(direction)
    if getattr(loaded.tokenizer, "tgt_lang", False) is None:  # M2M100 tokenizes targets with its tgt_lang
        loaded.tokenizer.tgt_lang = direction.tgt_code
    # Marian trains guided alignment on the first head of the last layer (transformer.h collects one
    # head for --alignment); on the tag set that head puts 86/89 tags right, the mean of all 8 heads 81/89
    # (benchmarks/tags.py --head 0). Other families learned no alignment head: the mean is the safer guess.
    head = 0 if loaded.family.name == "bergamot" else None
    return AttentionAligner(loaded.model, loaded.tokenizer, prefix=direction.prefix,
                            forced_bos=direction.generate_kwargs.get("forced_bos_token_id"), head=head)
