"""Make ``import pipeline`` enough for ``AutoModelForSeq2SeqLM.from_pretrained(<bergamot folder>)``.

Registering with transformers' Auto classes needs transformers and torch
(about 4 s to import), which ``mtpipe segment`` or ``mtpipe evaluate`` never
use. So ``import pipeline`` registers at once only when the Auto classes'
package (``transformers.models.auto``) is already imported; otherwise it
registers right after that package's own import, through a one-shot import
hook. Either way the Auto classes know the ``bergamot`` model type before user
code can reach them, and a process that never touches them (a one-line
``mtpipe translate`` with a built-in model) does not pay for their index of
every architecture (``transformers.models``, ~0.3 s).

The ``mtpipe`` command does not need the hook to register the model classes
(their module imports transformers' ``PreTrainedModel``, ~2 s): its loaders
register them before loading a model through the Auto classes, and the default
translation does not use them at all (:mod:`pipeline.models.bergamot.runner`).
Within :func:`models_on_demand`, the hook registers the config and the tokenizer only.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["install", "models_on_demand"]

log = logging.getLogger(__name__)

_models_on_import = True


@contextmanager
def models_on_demand() -> Iterator[None]:
    """Within: the hook registers the Bergamot config and tokenizer, not the model classes.

    For callers that load models only through :class:`pipeline.models.ModelInfo`
    (which registers the model classes itself), such as the ``mtpipe`` command.
    """
    global _models_on_import
    before, _models_on_import = _models_on_import, False
    try:
        yield
    finally:
        _models_on_import = before


def _register() -> None:
    from pipeline.models.bergamot import register_auto

    try:
        register_auto(models=_models_on_import)
    except Exception:  # a broken registration must not break the user's import of transformers
        log.warning("could not register the Bergamot model with transformers' Auto classes", exc_info=True)


# The package whose import the hook waits for: the Auto classes live in it.
_TARGET = "transformers.models.auto"


class _AfterTransformersImport(importlib.abc.MetaPathFinder):
    """Finds :data:`_TARGET` like the other finders do, then registers once its module has run."""

    def find_spec(self, name: str, path, target=None):  # noqa: ANN001 - the finder protocol
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from finding us
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Register now if transformers' Auto classes are loaded, else right after they are imported (idempotent)."""
    if _TARGET in sys.modules:
        _register()
    elif not any(isinstance(finder, _AfterTransformersImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTransformersImport())
