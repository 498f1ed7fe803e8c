"""The model used when none is named: the built-in model of the direction asked for."""

from __future__ import annotations

from pipeline.errors import LanguageError
from pipeline.languages import parse_language

__all__ = ["DEFAULT_MODEL", "default_model"]

# What a Translator opens when given no model.
DEFAULT_MODEL = "bergamot-en-pt"


def default_model(src_lang: str, tgt_lang: str) -> str:
    """The built-in model of a direction: ``bergamot-en-pt`` for ``en -> pt-BR``...

    Raises:
        LanguageError: no built-in model translates the pair; the message lists those that exist.
    """
    from pipeline.models.bergamot import DIRECTIONS

    pair = f"{parse_language(src_lang).language}-{parse_language(tgt_lang).language}"
    if pair in DIRECTIONS:
        return f"bergamot-{pair}"
    known = ", ".join(f"bergamot-{d} ({d.replace('-', ' -> ')})" for d in DIRECTIONS)
    raise LanguageError(f"no built-in model translates {src_lang} -> {tgt_lang} (built-in: {known})",
                        hint="pass --model: a hub id such as Helsinki-NLP/opus-mt-en-de, or a model folder")
