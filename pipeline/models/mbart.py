"""mBART-50: ``pt_XX``-style codes, the source set on the tokenizer, the target forced first."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pipeline.languages import Language
from pipeline.models.base import Direction, tagged_direction

__all__ = ["MBart"]

_CODE = re.compile(r"^([a-z]{2})_([A-Z]{2})$")


class MBart:
    """mBART-50 many-to-many checkpoints (``model_type`` ``mbart`` with ``en_XX``-style codes).

    A code's region says which variety it is: ``zh_CN`` is Simplified Chinese,
    so ``zh-Hans`` finds it and ``zh-Hant`` does not; ``XX`` means none.
    """

    name: ClassVar[str] = "mbart"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for ``model_type`` ``mbart`` with mBART language codes."""
        return getattr(config, "model_type", None) == "mbart" and bool(_codes(tokenizer))

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The tokenizer's language codes (``ar_AR`` ... ``sl_SI``)."""
        return list(_codes(tokenizer))

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """``src_lang`` set on the tokenizer; the target code's id as ``forced_bos_token_id``.

        Raises:
            LanguageError: the model has no code for ``src`` or ``tgt``.
        """
        return tagged_direction("mbart", config, tokenizer, _codes(tokenizer), src, tgt)


def _codes(tokenizer: Any) -> dict[str, str]:
    # Each code with the tag it stands for: "zh_CN" -> "zh-CN", "pt_XX" -> "pt".
    known = getattr(tokenizer, "lang_code_to_id", None) or getattr(tokenizer, "added_tokens_encoder", None) or {}
    codes = {}
    for code in known:
        match = _CODE.match(code)
        if match:
            language, region = match.groups()
            codes[code] = language if region == "XX" else f"{language}-{region}"
    return codes
