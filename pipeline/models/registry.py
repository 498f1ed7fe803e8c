"""Registries of model families and of built-in model names.

A *family* knows one kind of checkpoint (Marian, NLLB, ...): how to recognise it
and how to ask it for a language pair. Each family lives in its own module and
registers itself with :func:`register_family`. A *built-in name* such as
``bergamot-en-pt`` maps to a function that returns a local model folder,
creating it on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pipeline.errors import ModelError
from pipeline.languages import Language

__all__ = [
    "Direction",
    "Family",
    "tagged_direction",
    "register_family",
    "families",
    "get_family",
    "detect_family",
    "register_builtin",
    "builtin_names",
    "resolve_builtin",
]


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
    """What every model family module provides (one class, registered by name)."""

    name: ClassVar[str]

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True when this family handles a loaded model's config and tokenizer."""

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The family's own codes that the model can translate from or into."""

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The :class:`Direction` for ``src -> tgt``; raises ``LanguageError`` naming the supported codes."""


_FAMILIES: dict[str, type] = {}
_BUILTINS: dict[str, Callable[[], str]] = {}


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


def register_family(cls: type) -> type:
    """Class decorator: register a family under ``cls.name``. Order of registration is detection order."""
    _FAMILIES[cls.name] = cls
    return cls


def families() -> dict[str, type]:
    """The registered families, by name, with their modules imported."""
    _load_families()
    return dict(_FAMILIES)


def get_family(name: str) -> Family:
    """The family called ``name``.

    Raises:
        ModelError: no such family; the message lists the known ones.
    """
    known = families()
    if name not in known:
        raise ModelError(f"unknown model family {name!r} (known: {', '.join(sorted(known))})")
    return known[name]()


def detect_family(config: Any, tokenizer: Any) -> Family:
    """The first registered family whose ``matches`` accepts this model.

    Raises:
        ModelError: no family recognises the model.
    """
    for cls in families().values():
        family = cls()
        if family.matches(config, tokenizer):
            return family
    model_type = getattr(config, "model_type", "?")
    raise ModelError(
        f"no model family recognises model_type {model_type!r} with {type(tokenizer).__name__} "
        f"(known families: {', '.join(sorted(_FAMILIES))})",
        hint="name the family explicitly (family = \"marian\" in a job, or --family)",
    )


def register_builtin(name: str, provider: Callable[[], str]) -> None:
    """Register a built-in model name; ``provider()`` returns its local folder, creating it if needed."""
    _BUILTINS[name] = provider


def builtin_names() -> list[str]:
    """The registered built-in model names."""
    _load_families()
    return sorted(_BUILTINS)


def resolve_builtin(name: str) -> str | None:
    """The local folder of a built-in model name, or ``None`` when ``name`` is not built in."""
    _load_families()
    provider = _BUILTINS.get(name)
    return provider() if provider else None


def _load_families() -> None:
    # Imported lazily so that `import pipeline` stays cheap; each module
    # registers itself on import. Order here is detection order: the more
    # specific checks (bergamot, nllb, madlad) come before the generic ones.
    from pipeline.models import bergamot, m2m100, marian, mbart, nllb, t5  # noqa: F401
