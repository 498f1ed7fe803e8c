"""The Bergamot tokenizer: the engine's own ``tokenizer.json`` (SentencePiece unigram) behind transformers."""

from __future__ import annotations

from transformers import TokenizersBackend

__all__ = ["BergamotTokenizer"]


class BergamotTokenizer(TokenizersBackend):
    """SentencePiece unigram tokenizer read from ``tokenizer.json``; appends ``</s>`` to every source.

    Ids: ``</s>`` = 0 (also the pad), ``<unk>`` = 1; there is no BOS. The
    converter saves it with ``split_special_tokens=True``: the engine treats a
    literal ``</s>`` or ``<unk>`` in the text as the vocabulary piece of that
    spelling, not as a control token, and so does this tokenizer.
    """

    vocab_files_names = {"tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
