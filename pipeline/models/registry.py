"""Registries of model families and of built-in model names.

A *family* knows one kind of checkpoint (Marian, NLLB, ...): how to recognise it
and how to ask it for a language pair (:mod:`pipeline.models.base`). Each family
is one class in its own module, named in :data:`FAMILIES` and imported on first
use. A *built-in name* such as ``bergamot-en-pt`` maps to a function that returns
a local model folder, creating it on first use.

This module imports no family module by name and no family module imports it:
adding a family is one class and one line in :data:`FAMILIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pipeline.errors import ModelError
from pipeline.models.base import Family

__all__ = [
    "FAMILIES",
    "families",
    "get_family",
    "detect_family",
    "builtin_names",
    "resolve_builtin",
]

# name -> "module:Class", in detection order: the more specific checks (bergamot,
# then the tagged families, madlad before plain t5) come before the generic ones.
FAMILIES: dict[str, str] = {
    "bergamot": "pipeline.models.bergamot.family:BergamotFamily",
    "m2m100": "pipeline.models.m2m100:M2M100",
    "marian": "pipeline.models.marian:Marian",
    "mbart": "pipeline.models.mbart:MBart",
    "nllb": "pipeline.models.nllb:Nllb",
    "madlad": "pipeline.models.t5:Madlad",
    "t5": "pipeline.models.t5:T5",
}
# Functions that return built-in model names, each with the function that gives its folder.
_BUILTIN_SOURCES = ("pipeline.models.bergamot:builtin_models",)

_classes: dict[str, type] = {}
_builtins: dict[str, Callable[[], str]] | None = None


def _load(target: str) -> object:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def families() -> dict[str, type]:
    """The families, by name, in detection order, with their modules imported."""
    for name, target in FAMILIES.items():
        if name not in _classes:
            _classes[name] = _load(target)
    return {name: _classes[name] for name in FAMILIES}


def get_family(name: str) -> Family:
    """The family called ``name``.

    Raises:
        ModelError: no such family; the message lists the known ones.
    """
    known = families()
    if name not in known:
        raise ModelError(f"unknown model family {name!r} (known: {', '.join(sorted(known))})")
    return known[name]()


def detect_family(config: object, tokenizer: object) -> Family:
    """The first family (in :data:`FAMILIES` order) whose ``matches`` accepts this model.

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
        f"(known families: {', '.join(sorted(FAMILIES))})",
        hint="name the family explicitly (family = \"marian\" in a job, or --family)",
    )


def _builtin_models() -> dict[str, Callable[[], str]]:
    global _builtins
    if _builtins is None:
        found: dict[str, Callable[[], str]] = {}
        for source in _BUILTIN_SOURCES:
            found.update(_load(source)())
        _builtins = found
    return _builtins


def builtin_names() -> list[str]:
    """The built-in model names."""
    return sorted(_builtin_models())


def resolve_builtin(name: str) -> str | None:
    """The local folder of a built-in model name, or ``None`` when ``name`` is not built in."""
    provider = _builtin_models().get(name)
    return provider() if provider else None
