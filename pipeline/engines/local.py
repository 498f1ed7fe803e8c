"""The ``local`` engine: translators in this process (the Translator's worker threads use its cores)."""

from __future__ import annotations

from typing import Any

from pipeline.backends import backend_for
from pipeline.config import EngineConfig, SystemConfig

__all__ = ["LocalEngine", "make_translator"]


def make_translator(system: SystemConfig, **overrides: Any) -> Any:
    """The translator of a system, made by its backend (:func:`pipeline.backends.backend_for`).

    ``overrides`` replace the system's ``threads`` and ``workers`` (the Ray engine's actors size them).
    """
    return backend_for(system.model, system.backend).translator(system, **overrides)


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
