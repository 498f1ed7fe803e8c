"""The ``bergamot`` model family: one language pair per model, no prefix, no forced tokens."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pipeline.errors import LanguageError
from pipeline.languages import Language, parse_language, variant_warning
from pipeline.models.base import Direction

__all__ = ["WRITES", "BergamotFamily"]

logger = logging.getLogger(__name__)

# What the models really write, where a config's plain code says less: the Portuguese
# models were trained on Brazilian Portuguese (docs/bergamot.md).
WRITES = {"pt": "pt-BR"}


class BergamotFamily:
    """Bergamot (Firefox Translations) models converted by :mod:`pipeline.models.bergamot.convert`.

    A model translates ``config.src_lang -> config.tgt_lang`` only. Languages
    match on the language subtag, so ``en-US``/``eng`` are English and
    ``pt-BR``/``pt-PT``/``por_Latn`` Portuguese; the Portuguese models were
    trained on Brazilian Portuguese, whichever variant is asked for.
    """

    name: ClassVar[str] = "bergamot"
    # The most source tokens per segment (</s> included). bergamot-translator, the engine
    # these models were built for, cuts its input into sentences and breaks any sentence
    # at 128 tokens (its --max-length-break); the models drop content from longer inputs
    # (on FLORES sentences joined into 90-250-token inputs: 8-57% fewer words out), so
    # the Translator splits them the same way.
    max_source_tokens: ClassVar[int] = 128

    def greedy_model(self, info: Any, *, beam: int, device: str, dtype: str, quantize: str | None) -> Any:
        """The model as :mod:`pipeline.models.bergamot.runner` loads it for plain greedy search, or ``None``.

        Same tokens as the transformers model, without importing transformers' ``PreTrainedModel``.
        """
        from pipeline.models.bergamot.runner import load_greedy

        return load_greedy(info.path, info.config, beam=beam, device=device, dtype=dtype, quantize=quantize)

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for configs with ``model_type == "bergamot"``."""
        return getattr(config, "model_type", None) == "bergamot"

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """``[src_lang, tgt_lang]`` of the model."""
        return [config.src_lang, config.tgt_lang]

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The model's only direction, if ``src -> tgt`` is it.

        Raises:
            LanguageError: any other pair, naming the one the model translates.
        """
        model_src, model_tgt = parse_language(config.src_lang), parse_language(config.tgt_lang)
        if (src.language, tgt.language) != (model_src.language, model_tgt.language):
            name = f"bergamot-{config.src_lang}-{config.tgt_lang}"
            raise LanguageError(
                f"model {name} translates {config.src_lang} -> {config.tgt_lang} only; cannot translate {src} -> {tgt}",
                hint="the built-in models are bergamot-en-pt and bergamot-pt-en; for other pairs pass --model",
            )
        writes = WRITES.get(model_tgt.language)
        warning = writes and variant_warning(f"bergamot-{config.src_lang}-{config.tgt_lang}", tgt, writes)
        if warning:
            logger.warning("%s", warning)
        return Direction(src_code=config.src_lang, tgt_code=config.tgt_lang)
