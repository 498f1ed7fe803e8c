"""Configuration of the Bergamot "tiny" transformer (Firefox Translations)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

__all__ = ["BergamotConfig"]


@strict
class BergamotConfig(PreTrainedConfig):
    """A Marian transformer encoder with an SSRU decoder, as Bergamot ships it.

    Post-norm everywhere ("dan": dropout, add, layer norm), sinusoidal positions,
    one embedding matrix tied between source, target and output layer.

    Args:
        vocab_size: the shared SentencePiece vocabulary.
        d_model: model width.
        encoder_layers: self-attention + FFN blocks.
        decoder_layers: SSRU + cross-attention + FFN blocks.
        attention_heads: heads of every attention.
        ffn_dim: inner width of every FFN.
        layer_norm_eps: epsilon of every layer norm.
        max_length_factor: generation stops after ``ceil(factor * source tokens)``
            target tokens, the source counted with its ``</s>`` (Marian's
            ``max-length-factor``).
        use_shortlist: restrict the output layer to the lexical shortlist of the
            batch's source ids.
        shortlist_first_num: target ids below this are always in the shortlist.
        shortlist_size: the number of target ids in the lexical table the model
            carries (0: the model has no shortlist).
        src_lang: the source language (BCP-47).
        tgt_lang: the target language (BCP-47).
    """

    model_type = "bergamot"
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "attention_heads",
        "num_hidden_layers": "decoder_layers",
    }

    vocab_size: int = 32000
    d_model: int = 256
    encoder_layers: int = 6
    decoder_layers: int = 2
    attention_heads: int = 8
    ffn_dim: int = 1536
    layer_norm_eps: float = 1e-6
    max_length_factor: float = 2.5
    use_shortlist: bool = True
    shortlist_first_num: int = 50
    shortlist_size: int = 0
    src_lang: str = "en"
    tgt_lang: str = "pt"
    # The vocabulary has no BOS and no pad: </s> (0) pads (always with an
    # attention mask) and starts the decoder, whose first step the model feeds
    # a zero embedding, as Marian does.
    pad_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 0
    bos_token_id: int | None = None
    decoder_start_token_id: int = 0
    unk_token_id: int = 1
    is_encoder_decoder: bool = True
    use_cache: bool = True
    tie_word_embeddings: bool = True
