"""NLLB-200: ``por_Latn``-style codes, the source code set on the tokenizer, the target code forced first."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pipeline.languages import Language
from pipeline.models.base import Direction, tagged_direction

__all__ = ["Nllb"]

_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


class Nllb:
    """NLLB checkpoints: ``model_type`` ``m2m_100`` (or ``nllb_moe``) with NLLB language codes.

    They share M2M100's architecture, so the tokenizer tells them apart: an
    ``NllbTokenizer``, or added tokens shaped like ``eng_Latn``.
    """

    name: ClassVar[str] = "nllb"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for an M2M100-architecture model with an NLLB tokenizer."""
        if getattr(config, "model_type", None) not in ("m2m_100", "nllb_moe"):
            return False
        return type(tokenizer).__name__.startswith("Nllb") or bool(_codes(tokenizer))

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The language codes among the tokenizer's added tokens (``ace_Arab`` ... ``zul_Latn``)."""
        return _codes(tokenizer)

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """``src_lang`` set on the tokenizer; the target code's id as ``forced_bos_token_id``.

        Raises:
            LanguageError: the model has no code for ``src`` or ``tgt``.
        """
        return tagged_direction("nllb", config, tokenizer, {code: code for code in _codes(tokenizer)}, src, tgt)


def _codes(tokenizer: Any) -> list[str]:
    added = getattr(tokenizer, "added_tokens_encoder", None) or {}
    return [token for token in added if _CODE.match(token)]
