"""The ``transformers`` backend: any Hugging Face seq2seq model, through :class:`pipeline.translate.Translator`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pipeline.config import SystemConfig

__all__ = ["TransformersBackend"]

# What a report shows of a system, when set.
_SETTINGS = ("beam", "max_length", "batch_tokens", "device", "dtype", "threads", "workers", "quantize", "family",
             "rerank")


class TransformersBackend:
    """A built-in name, a model folder or a hub id, translated by transformers (or our Bergamot port)."""

    name: ClassVar[str] = "transformers"
    takes_workers: ClassVar[bool] = True
    takes_model: ClassVar[bool] = True

    def check_options(self, options: Mapping[str, Any], context: str) -> None:
        """Every system option applies (their values are checked by the config)."""

    def settings(self, system: SystemConfig) -> dict[str, object]:
        """The system's decoding and hardware settings that are set."""
        return {key: getattr(system, key) for key in _SETTINGS if getattr(system, key) is not None}

    def translator(self, system: SystemConfig, **overrides: Any) -> Any:
        """A :class:`~pipeline.translate.Translator` for the system; ``overrides``: ``threads``, ``workers``."""
        from pipeline.translate import Translator  # the model's modules, torch and transformers on use

        translator = Translator(
            system.model,
            family=system.family,
            beam=system.beam,
            max_length=system.max_length,
            batch_tokens=system.batch_tokens,
            device=system.device,
            dtype=system.dtype,
            threads=overrides.get("threads", system.threads),
            workers=overrides.get("workers", system.workers),
            quantize=system.quantize,
        )
        if system.rerank is None:
            return translator
        from pipeline.rerank import RerankingTranslator

        return RerankingTranslator(translator, system.rerank, k=system.nbest, method=system.nbest_method,
                                   reverse_model=system.reverse_model)
