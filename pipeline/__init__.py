"""mtpipe: segment documents, translate them with Hugging Face seq2seq models, score with sacrebleu.

The stages, in the order data flows through them:
:mod:`pipeline.corpora` and :mod:`pipeline.segment` (inputs) -> :mod:`pipeline.engines`,
:mod:`pipeline.backends`, :mod:`pipeline.translate` and :mod:`pipeline.batching` (translation) ->
:mod:`pipeline.align`, :mod:`pipeline.evaluate` and :mod:`pipeline.metrics` (scores) ->
:mod:`pipeline.compare` and :mod:`pipeline.reports` (comparison); :mod:`pipeline.jobs` runs them
and :mod:`pipeline.cli` is the command. docs/architecture.md has the whole map.

Importing the package is cheap; it also makes the converted Bergamot models
loadable through transformers' Auto classes (see :mod:`pipeline._autoregister`).
"""

from __future__ import annotations

from pipeline import _autoregister

__version__ = "0.1.0"
__all__ = ["__version__"]

_autoregister.install()
