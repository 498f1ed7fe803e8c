"""MarianMT (OPUS-MT, Tatoeba-Challenge): one pair, or one source and ``>>xxx<<`` target tokens."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pipeline.errors import LanguageError
from pipeline.languages import Language, parse_language, require_code
from pipeline.models.base import Direction

__all__ = ["Marian"]

_TARGET_TOKEN = re.compile(r"^>>(.+)<<$")


class Marian:
    """Marian checkpoints converted to Hugging Face (``model_type`` ``marian``).

    A single-pair model names its languages in the tokenizer's ``source_lang``
    and ``target_lang``; when it does not, or names a group (``mul``, ``roa``),
    any language is accepted on that side. A multi-target model has
    ``>>por<<``-style tokens in its vocabulary; the one for the target language
    goes before every source segment.
    """

    name: ClassVar[str] = "marian"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for ``model_type`` ``marian``."""
        return getattr(config, "model_type", None) == "marian"

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The declared source codes, then the target codes (empty when the model names none)."""
        targets = _target_codes(tokenizer) or _declared(tokenizer, "target_lang")
        return list(dict.fromkeys(_declared(tokenizer, "source_lang") + targets))

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The pair's codes and, for a multi-target model, the ``>>xxx<< `` prefix.

        Raises:
            LanguageError: the model names its languages and ``src`` or ``tgt`` is not one of them.
        """
        model = f"marian model {config.name_or_path!r}"
        src_code = _declared_code(tokenizer, "source_lang", src, "from", model)
        targets = _target_codes(tokenizer)
        if not targets:
            return Direction(src_code, _declared_code(tokenizer, "target_lang", tgt, "into", model))
        tgt_code = require_code(tgt, {code: code for code in targets}, side="into", model=model)
        return Direction(src_code, tgt_code, prefix=f">>{tgt_code}<< ")


def _target_codes(tokenizer: Any) -> list[str]:
    # MarianTokenizer lists its ``>>xxx<<`` tokens itself; another tokenizer class has them in its vocabulary.
    tokens = getattr(tokenizer, "supported_language_codes", None)
    if tokens is None:
        tokens = tokenizer.get_vocab()
    return [match.group(1) for match in map(_TARGET_TOKEN.match, tokens) if match]


def _declared(tokenizer: Any, attr: str) -> list[str]:
    # "en", "eng", "en+de" or "deu+eng+fra": the codes the tokenizer config gives for one side.
    return [code for code in re.split(r"[+,\s]+", str(getattr(tokenizer, attr, None) or "")) if code]


def _declared_code(tokenizer: Any, attr: str, lang: Language, side: str, model: str) -> str:
    declared = _declared(tokenizer, attr)
    if not declared or not all(map(_is_one_language, declared)):
        return lang.tag  # the model does not say which languages: trust the user
    return require_code(lang, {code: code for code in declared}, side=side, model=model)


def _is_one_language(code: str) -> bool:
    try:
        lang = parse_language(code)
    except LanguageError:
        return False
    return lang.language != "mul" and not lang.name.endswith(" languages")
