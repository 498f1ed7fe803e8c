"""What a model family is: the :class:`Family` protocol and the :class:`Direction` it answers with.

Family modules (:mod:`pipeline.models.marian`, ...) import this module, never
the registry: :mod:`pipeline.models.registry` names them by ``"module:Class"``
and imports them on first use, so the two never import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pipeline.languages import Language

__all__ = ["Direction", "Family", "tagged_direction"]


@dataclass(frozen=True)
class Direction:
    """How to ask one loaded model for one language pair.

    Attributes:
        src_code: the family's own code for the source language.
        tgt_code: the family's own code for the target language.
        prefix: text put before every source segment (a T5 task prefix, ``>>por<< ``, ``<2pt> ``).
        tokenizer_attrs: attributes set on the tokenizer before encoding (``{"src_lang": "por_Latn"}``).
        generate_kwargs: extra ``generate()`` arguments (``{"forced_bos_token_id": 256047}``).
    """

    src_code: str
    tgt_code: str
    prefix: str = ""
    tokenizer_attrs: dict[str, Any] = field(default_factory=dict)
    generate_kwargs: dict[str, Any] = field(default_factory=dict)


class Family(Protocol):
    """What every model family module provides: one class, named in :data:`pipeline.models.registry.FAMILIES`."""

    name: ClassVar[str]

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True when this family handles a loaded model's config and tokenizer."""

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The family's own codes that the model can translate from or into."""

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The :class:`Direction` for ``src -> tgt``; raises ``LanguageError`` naming the supported codes."""


def tagged_direction(
    family: str,
    config: Any,
    tokenizer: Any,
    codes: dict[str, str],
    src: Language,
    tgt: Language,
    *,
    target_token: Callable[[str], str] = str,
) -> Direction:
    """The direction of a model tagged by language tokens (NLLB, M2M100, mBART-50).

    The tokenizer's ``src_lang`` marks the source, and the target's token is forced
    as the first generated token.

    Args:
        family: the family's name, for error messages.
        codes: the model's codes, each with the language tag it stands for.
        target_token: the token of a target code (M2M100 wraps it: ``__pt__``).

    Raises:
        LanguageError: the model has no code for ``src`` or ``tgt``; the message lists the codes.
    """
    from pipeline.languages import require_code

    model = f"{family} model {config.name_or_path!r}"
    src_code = require_code(src, codes, side="from", model=model)
    tgt_code = require_code(tgt, codes, side="into", model=model)
    return Direction(
        src_code,
        tgt_code,
        tokenizer_attrs={"src_lang": src_code},
        generate_kwargs={"forced_bos_token_id": tokenizer.convert_tokens_to_ids(target_token(tgt_code))},
    )
