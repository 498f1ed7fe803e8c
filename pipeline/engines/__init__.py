"""Where translation runs: a registry of engines.

An engine turns a ``[[systems]]`` entry into a translator that
:func:`pipeline.cache.translate_chunks` can use: ``local`` builds it in this
process; ``ray`` sends the groups of segments to an actor pool on a Ray
cluster. Engines are opened as context managers: ``ray`` connects to a cluster
(or starts a local one) on entry and lets go of it on exit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.errors import ConfigError

if TYPE_CHECKING:  # pipeline.config takes ENGINES from here
    from pipeline.config import EngineConfig, SystemConfig

__all__ = ["Engine", "ENGINES", "open_engine"]


class Engine(Protocol):
    """Makes translators for systems; a context manager around whatever it runs on."""

    name: str

    def translator(self, system: SystemConfig) -> Any:
        """A translator for ``system`` (no weights read yet); raises PipelineError for a bad system."""

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


# name -> "module:factory"; modules are imported on use (Ray is an optional extra).
_REGISTRY: dict[str, str] = {
    "local": "pipeline.engines.local:LocalEngine",
    "ray": "pipeline.engines.raydata:RayEngine",
}
# The engines' names, for job files and the command line.
ENGINES: tuple[str, ...] = tuple(_REGISTRY)


def open_engine(config: EngineConfig) -> Engine:
    """The engine ``config`` names, not yet entered.

    Raises:
        ConfigError: an unknown engine, or one whose optional dependencies are missing.
    """
    if config.name not in _REGISTRY:
        raise ConfigError(f"unknown engine {config.name!r} (known: {', '.join(sorted(_REGISTRY))})")
    module, factory = _REGISTRY[config.name].split(":")
    return getattr(importlib.import_module(module), factory)(config)

