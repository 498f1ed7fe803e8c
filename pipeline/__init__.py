"""mtpipe: segment documents, translate them with Hugging Face seq2seq models, score with sacrebleu.

The stages, in the order data flows through them:
:mod:`pipeline.segment` -> :mod:`pipeline.translate` -> :mod:`pipeline.evaluate` -> :mod:`pipeline.jobs`.

Importing the package is cheap; it also makes the converted Bergamot models
loadable through transformers' Auto classes (see :mod:`pipeline._autoregister`).
"""

from __future__ import annotations

from pipeline import _autoregister

__version__ = "0.1.0"
__all__ = ["__version__"]

_autoregister.install()
