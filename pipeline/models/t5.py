"""T5-style models: task prefixes (``translate English to German: ``) and MADLAD-400's ``<2pt>`` tokens."""

from __future__ import annotations

import re
import weakref
from typing import Any, ClassVar

from pipeline.errors import LanguageError
from pipeline.languages import Language, best_code, format_codes, require_code
from pipeline.models.base import Direction

__all__ = ["Madlad", "T5"]

_T5_TYPES = ("t5", "mt5", "umt5")
_MADLAD_TOKEN = re.compile(r"^<2([A-Za-z]{2,3}(?:_[A-Za-z0-9]+)*)>$")
_TASK = re.compile(r"^translation_([A-Za-z-]+)_to_([A-Za-z-]+)$")


class Madlad:
    """MADLAD-400 checkpoints: a T5 whose vocabulary has ``<2xx>`` target tokens, put before the source."""

    name: ClassVar[str] = "madlad"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for a T5-type model with ``<2xx>`` tokens in its vocabulary."""
        return getattr(config, "model_type", None) in _T5_TYPES and bool(_madlad_codes(tokenizer))

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The codes of the ``<2xx>`` tokens (``en``, ``pt``, ``zh_Latn``...)."""
        return list(_madlad_codes(tokenizer))

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The ``<2xx> `` prefix for ``tgt``; the source needs no code but must be a language the model knows.

        Raises:
            LanguageError: the model has no token for ``src`` or ``tgt``.
        """
        codes = {code: code for code in _madlad_codes(tokenizer)}
        model = f"madlad model {config.name_or_path!r}"
        src_code = require_code(src, codes, side="from", model=model)
        tgt_code = require_code(tgt, codes, side="into", model=model)
        return Direction(src_code, tgt_code, prefix=f"<2{tgt_code}> ")


class T5:
    """T5 checkpoints asked in words: ``translate English to German: ``.

    When the config lists translation tasks (``task_specific_params``, as the
    original T5 does: English into German, French, Romanian) only those pairs
    are accepted, with their prefixes; otherwise any pair, with a prefix built
    from the languages' English names.
    """

    name: ClassVar[str] = "t5"

    def matches(self, config: Any, tokenizer: Any) -> bool:
        """True for a T5-type model without MADLAD tokens."""
        return getattr(config, "model_type", None) in _T5_TYPES and not _madlad_codes(tokenizer)

    def supported_languages(self, config: Any, tokenizer: Any) -> list[str]:
        """The languages of the listed translation tasks (empty when the config lists none: any goes)."""
        return list(dict.fromkeys(code for pair in _tasks(config) for code in pair))

    def direction(self, config: Any, tokenizer: Any, src: Language, tgt: Language) -> Direction:
        """The task prefix for the pair.

        Raises:
            LanguageError: the config lists translation tasks and none is ``src -> tgt``.
        """
        tasks = _tasks(config)
        if not tasks:
            return Direction(src.tag, tgt.tag, prefix=f"translate {src.base_name} to {tgt.base_name}: ")
        model = f"t5 model {config.name_or_path!r}"
        for (src_code, tgt_code), prefix in tasks.items():
            if best_code(src, {src_code: src_code}) and best_code(tgt, {tgt_code: tgt_code}):
                return Direction(src_code, tgt_code, prefix=prefix)
        pairs = [f"{a}->{b}" for a, b in tasks]
        raise LanguageError(
            f"{model} cannot translate from {src.tag!r} into {tgt.tag!r}; supported pairs: {format_codes(pairs)}",
            hint="use one of the supported pairs, or choose another model",
        )


def _tasks(config: Any) -> dict[tuple[str, str], str]:
    # {("en", "de"): "translate English to German: "} from the config's translation tasks.
    tasks = {}
    for key, params in (getattr(config, "task_specific_params", None) or {}).items():
        match = _TASK.match(key)
        if match and isinstance(params, dict) and params.get("prefix"):
            tasks[match.groups()] = params["prefix"]
    return tasks


_MADLAD_CACHE: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def _madlad_codes(tokenizer: Any) -> list[str]:
    # A scan of the whole vocabulary (256k pieces for MADLAD), so done once per tokenizer.
    try:
        return _MADLAD_CACHE[tokenizer]
    except (KeyError, TypeError):
        pass
    codes = [match.group(1) for match in map(_MADLAD_TOKEN.match, tokenizer.get_vocab()) if match]
    try:
        _MADLAD_CACHE[tokenizer] = codes
    except TypeError:
        pass  # not weakly referenceable: scan again next time
    return codes
