"""Mozilla's Bergamot (Firefox Translations) tiny en<->pt models as transformers models.

Importing this package is cheap: it provides the ``bergamot`` family and the
built-in names ``bergamot-en-pt`` / ``bergamot-pt-en`` (converted on first use,
see :mod:`pipeline.models.bergamot.store`). torch and transformers are only
imported by :func:`register_auto`, by the conversion itself and by the torch-only
greedy model that translates by default (:mod:`pipeline.models.bergamot.runner`).
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.models.bergamot.family import BergamotFamily
from pipeline.models.bergamot.store import (
    DIRECTIONS,
    STORE_ENV,
    default_store,
    ensure_model,
    import_bergamot,
)

__all__ = [
    "BergamotFamily",
    "DIRECTIONS",
    "STORE_ENV",
    "builtin_models",
    "default_store",
    "ensure_model",
    "import_bergamot",
    "register_auto",
]

# What register_auto has registered: "config" (config and tokenizer), "models".
_registered: set[str] = set()


def register_auto(*, models: bool = True) -> None:
    """Register the Bergamot config, model and tokenizer with transformers' Auto classes (idempotent).

    Afterwards ``AutoConfig``, ``AutoModelForSeq2SeqLM`` and ``AutoTokenizer``
    ``.from_pretrained(folder)`` load a converted folder.

    Args:
        models: also the model classes. Their module needs transformers'
            ``PreTrainedModel``, whose import takes ~2 s; the config and the
            tokenizer need neither, so ``models=False`` registers only them.
    """
    if "config" not in _registered:
        from transformers import AutoConfig, AutoTokenizer

        from pipeline.models.bergamot.configuration import BergamotConfig
        from pipeline.models.bergamot.tokenization import BergamotTokenizer

        AutoConfig.register(BergamotConfig.model_type, BergamotConfig, exist_ok=True)
        AutoTokenizer.register(BergamotConfig, tokenizer_class=BergamotTokenizer, exist_ok=True)
        _registered.add("config")
    if models and "models" not in _registered:
        from transformers import AutoModel, AutoModelForSeq2SeqLM

        from pipeline.models.bergamot.configuration import BergamotConfig
        from pipeline.models.bergamot.modeling import BergamotForConditionalGeneration, BergamotModel

        AutoModel.register(BergamotConfig, BergamotModel, exist_ok=True)
        AutoModelForSeq2SeqLM.register(BergamotConfig, BergamotForConditionalGeneration, exist_ok=True)
        _registered.add("models")


def builtin_models() -> dict[str, Callable[[], str]]:
    """The built-in names (``bergamot-en-pt``...), each with the function that returns its folder."""
    return {f"bergamot-{direction}": _provider(direction) for direction in DIRECTIONS}


def _provider(direction: str) -> Callable[[], str]:
    def provide() -> str:
        return str(ensure_model(direction))

    return provide
