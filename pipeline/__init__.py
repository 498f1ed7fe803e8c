"""mtpipe: segment documents, translate them with Hugging Face seq2seq models, score with sacrebleu.

The stages, in the order data flows through them:
:mod:`pipeline.segment` -> :mod:`pipeline.translate` -> :mod:`pipeline.evaluate` -> :mod:`pipeline.jobs`.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
