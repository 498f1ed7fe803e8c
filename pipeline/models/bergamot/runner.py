"""A Bergamot model for plain greedy translation that needs torch only, not transformers' ``PreTrainedModel``.

Every transformers model class derives from ``PreTrainedModel``, and importing it
(``transformers.modeling_utils``: masking utilities, torch._dynamo, the loss
functions, scipy) took ~2 s here: longer than loading the Bergamot model and
translating a line with it. The default translation (greedy, float32 on the
CPU, no quantization) only ever runs
:func:`~pipeline.models.bergamot.greedy.greedy_decode`, and that needs the
encoder and decoder stacks and the output bias, which are plain ``nn.Module``\\s.
:class:`BergamotGreedyModel` holds those same modules under the same names, reads
the same ``model.safetensors`` with every key accounted for (``strict``), and
gives the same token ids as ``BergamotForConditionalGeneration.generate()``
(tests compare the two). Anything else (beam search, a generation config with
other settings, torch's dynamic int8, another dtype or device, attention for tag placement,
scoring) uses the full transformers model.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.models.bergamot.generation import FAST_CONFIG_KEYS, FAST_KWARGS
from pipeline.models.bergamot.greedy import decode_plain
from pipeline.models.bergamot.stacks import BergamotDecoder, BergamotEncoder

__all__ = ["BergamotGreedyModel", "load_greedy"]

WEIGHTS = "model.safetensors"
ROWS = "int8-rows"  # pipeline.models.bergamot.int8.MODE (not imported: it is needed only when asked for)


class _Stacks(nn.Module):
    # BergamotModel's modules under its names (``model.encoder``, ``model.decoder``), so that the
    # checkpoint's keys match.
    def __init__(self, config: Any) -> None:
        super().__init__()
        self.encoder = BergamotEncoder(config)
        self.decoder = BergamotDecoder(config)


class BergamotGreedyModel(nn.Module):
    """The encoder, the decoder and the output bias of a Bergamot model, for greedy search only.

    Args:
        config: the model's ``BergamotConfig``.
        generation_config: its ``GenerationConfig`` (read from ``generation_config.json``).
    """

    def __init__(self, config: Any, generation_config: Any) -> None:
        super().__init__()
        self.config = config
        self.generation_config = generation_config
        self.model = _Stacks(config)
        self.logits_bias = nn.Parameter(torch.zeros(config.vocab_size))

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.logits_bias.device

    def generate(self, input_ids: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Greedy search, as ``BergamotForConditionalGeneration.generate()`` runs it with the same arguments.

        Raises:
            ValueError: an argument other than those of plain greedy search.
        """
        # The conditions of BergamotForConditionalGeneration._can_decode_fast, which load_greedy
        # checked for the generation config.
        plain = kwargs.keys() <= FAST_KWARGS and kwargs.get("num_beams", 1) == 1 and not kwargs.get("do_sample")
        if not plain or kwargs.get("use_cache") is False or self.generation_config.forced_eos_token_id is not None:
            raise ValueError(f"plain greedy search only; got {sorted(kwargs)}")
        return decode_plain(self, input_ids, kwargs)


def load_greedy(folder: str | Path, config: Any, *, device: str, dtype: str, quantize: str | None,
                beam: int) -> BergamotGreedyModel | None:
    """The model of ``folder`` as a :class:`BergamotGreedyModel`, or ``None`` when it does not apply.

    It applies to beam 1, float32 on the CPU without quantization or with ``int8-rows``
    (:mod:`pipeline.models.bergamot.int8`), a single
    ``model.safetensors`` and a generation config that greedy search runs as
    transformers would; and not when ``fast_greedy`` was turned off on
    ``BergamotForConditionalGeneration`` (benchmarks do, to time transformers' loop).

    Raises:
        Exception: whatever reading the weights raises (the caller names the file).
    """
    modeling = sys.modules.get("pipeline.models.bergamot.modeling")  # not imported: fast_greedy has its default
    if modeling is not None and not modeling.BergamotForConditionalGeneration.fast_greedy:
        return None
    weights = Path(folder) / WEIGHTS
    if beam != 1 or device != "cpu" or dtype != "float32" or quantize not in (None, ROWS) or not weights.is_file():
        return None
    from safetensors.torch import load_file
    from transformers import GenerationConfig

    generation = GenerationConfig.from_pretrained(folder)
    if not generation.to_diff_dict().keys() <= FAST_CONFIG_KEYS or generation.num_beams not in (None, 1):
        return None
    with _no_init():
        model = BergamotGreedyModel(config, generation)
    # strict: every parameter and buffer comes from the file, none keeps its uninitialised memory.
    model.load_state_dict(load_file(weights), strict=True, assign=True)
    if quantize == ROWS:
        from pipeline.models.bergamot.int8 import quantize_rows

        quantize_rows(model)
    return model.eval()


# The torch.nn.init functions that nn.Linear, nn.Embedding and nn.LayerNorm call when they are built.
_INIT_FUNCTIONS = ("uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                   "xavier_normal_", "trunc_normal_", "constant_", "ones_", "zeros_")


@contextmanager
def _no_init() -> Iterator[None]:
    # Random initialisation of weights the checkpoint then replaces took 160 ms, and building on the
    # meta device instead imports torch._dynamo (~0.5 s) for its initialisers. So the initialisers do
    # nothing while the model is built, as transformers' own no_init_weights() has them do.
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}
    try:
        for name in _INIT_FUNCTIONS:
            setattr(nn.init, name, _unchanged)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def _unchanged(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor
