"""M2M100: ``pt``-style codes as ``__pt__`` tokens, the source set on the tokenizer, the target forced first."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pipeline.languages import Language
from pipeline.models.base import Direction, tagged_direction

__all__ = ["M2M100"]

_TOKEN = re.compile(r"^__([a-z]{2,3})__$")


class M2M100:
    """M2M100 checkpoints (``model_type`` ``m2m_100`` with ``__en__``-style language tokens, not NLLB's)."""

    name: ClassVar[str] = "m2m100"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for ``model_type`` ``m2m_100`` with M2M100 language tokens."""
        return getattr(config, "model_type", None) == "m2m_100" and bool(_codes(tokenizer))

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The codes of the tokenizer's language tokens (``af`` ... ``zu``)."""
        return _codes(tokenizer)

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """``src_lang`` set on the tokenizer; the id of ``__tgt__`` as ``forced_bos_token_id``.

        Raises:
            LanguageError: the model has no code for ``src`` or ``tgt``.
        """
        codes = {code: code for code in _codes(tokenizer)}
        return tagged_direction("m2m100", config, tokenizer, codes, src, tgt, target_token=lambda code: f"__{code}__")


def _codes(tokenizer: Any) -> list[str]:
    # M2M100Tokenizer keeps its language tokens outside the vocabulary, in lang_code_to_token.
    known = getattr(tokenizer, "lang_code_to_token", None)
    if known:
        return list(known)
    added = getattr(tokenizer, "added_tokens_encoder", None) or {}
    return [match.group(1) for match in map(_TOKEN.match, added) if match]
