"""The transformers generation path: one model's weights, its length limits, generate() and decoding.

:class:`Seq2SeqGenerator` is what the :class:`pipeline.translate.Translator`
asks to turn a batch of token ids into translations: it loads the weights on
first use, pads a batch and calls ``generate()`` (transformers' search, or for
Bergamot models their own greedy loop), and decodes each row within that
segment's own length limit, so that a translation does not depend on the batch
it happened to be in.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pipeline.batching import Item, numbers
from pipeline.errors import ModelError
from pipeline.models import LoadedModel, ModelInfo
from pipeline.models.base import Direction

__all__ = ["DEFAULT_MAX_SOURCE", "Seq2SeqGenerator"]

logger = logging.getLogger(__name__)

# A model that declares no input limit (T5's relative positions) gets this one,
# and none gets more: sentence-level MT models are trained on far shorter inputs.
DEFAULT_MAX_SOURCE = 512
_MAX_SOURCE_CAP = 1024
# Unless max_length is given, a segment may produce up to factor x its input
# tokens + offset (after Marian's --max-length-factor): room for any real
# translation, and a stop for a model caught in a repetition loop.
_LENGTH_FACTOR = 3
_LENGTH_OFFSET = 10
# transformers' own default max_length, which a checkpoint without a generation
# config inherits: far too short for translation, so it is not taken as the model's.
_LIBRARY_MAX_LENGTH = 20


class Seq2SeqGenerator:
    """Generate translations of token-id batches with one transformers seq2seq model.

    Args:
        info: the model's config, tokenizer and family (no weights yet).
        beam: beam size (1: greedy).
        max_length: the most tokens to generate per segment (``None``: the model's own, see :meth:`max_new_tokens`).
        load: the options of :meth:`pipeline.models.ModelInfo.load` (device, dtype, threads, quantize).
    """

    def __init__(self, info: ModelInfo, *, beam: int, max_length: int | None, load: dict[str, Any]) -> None:
        self.info = info
        self.beam = beam
        self.max_length = max_length
        self._load = load
        self._loaded: LoadedModel | None = None
        self._runner: Any = None
        self._configured_max_length: int | None = None

    @property
    def loaded(self) -> LoadedModel:
        """The loaded transformers model (its weights are read on first use)."""
        if self._loaded is None:
            loaded = self.info.load(**self._load)
            self._own_limits(loaded.model.generation_config)
            self._loaded = loaded
        return self._loaded

    @property
    def runner(self) -> Any:
        """What :meth:`generate` runs: a family's lighter greedy model when it has one for these settings, else
        the transformers model (:attr:`loaded`). Read on first use.

        A family's ``greedy_model`` gives the same tokens without importing transformers'
        ``PreTrainedModel`` (~2 s of a one-line ``mtpipe translate``; docs/speed.md).
        """
        if self._runner is None:
            light = getattr(self.info.family, "greedy_model", None)
            model = None
            if light is not None and self._loaded is None:
                model = self._greedy_model(light)
            if model is None:
                model = self.loaded.model
            else:
                self._own_limits(model.generation_config)
            self._runner = model
        return self._runner

    def _greedy_model(self, light: Any) -> Any:
        from pipeline.models import resolve_device

        options = self._load
        if options["threads"] is not None:
            import torch

            # Before loading: quantizing (int8-rows) runs torch operators, which with more
            # threads than the process may use stall on a busy machine (docs/speed.md).
            torch.set_num_threads(options["threads"])
        try:
            model = light(self.info, beam=self.beam, device=resolve_device(options["device"]),
                          dtype=options["dtype"], quantize=options["quantize"])
        except Exception as err:  # safetensors, torch or a missing key: named as ModelInfo.load names it
            raise ModelError(
                f"cannot load the weights of model {self.info.name!r} from {self.info.path}: {err}",
                hint="the file may be incomplete or corrupted: download or convert the model again",
            ) from err
        return model

    def _own_limits(self, generation: Any) -> None:
        # Each segment gets its own limit (see generate): the config's
        # max_length is kept as the default one, and removed so that generate()
        # does not warn that max_new_tokens overrides it; forced_eos_token_id
        # (Marian, mBART) would put </s> at the batch's limit, hiding a cut and
        # making a segment's output depend on its batch.
        if self._configured_max_length is None:
            self._configured_max_length = generation.max_length
        generation.max_length = None
        generation.forced_eos_token_id = None

    @property
    def max_source_tokens(self) -> int:
        """The most tokens the model takes in one segment: its positions, its tokenizer's and its family's limit."""
        family_limit = getattr(self.info.family, "max_source_tokens", None)
        return min(self.position_limit(), family_limit or _MAX_SOURCE_CAP)

    def position_limit(self) -> int:
        """What the model's position table and tokenizer allow (also the default cap on outputs)."""
        config, tokenizer = self.info.config, self.info.tokenizer
        limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
        # Tokenizers without a limit report a huge sentinel (int(1e30)).
        sane = [value for value in limits if isinstance(value, int) and 0 < value < 1_000_000]
        return min(min(sane, default=DEFAULT_MAX_SOURCE), _MAX_SOURCE_CAP)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, special tokens included (calling thread only: the tokenizer is not shared)."""
        # verbose=False: no "longer than the maximum sequence length" notice; long segments are split.
        return self.info.tokenizer(texts, verbose=False)["input_ids"]

    def set_direction(self, direction: Direction) -> None:
        """Set the tokenizer's attributes for a direction (NLLB's ``src_lang``...) before encoding."""
        for attr, value in direction.tokenizer_attrs.items():
            setattr(self.info.tokenizer, attr, value)

    def generate(self, batch: list[Item], direction: Direction, model: Any) -> list[list[int]]:
        """The model's output ids for a batch. Torch only (no tokenizer): runs in worker threads."""
        import torch

        pad = self.info.tokenizer.pad_token_id
        width = len(batch[0].ids)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
            attention_mask[row, : len(item.ids)] = 1
        # Each segment has its own limit, applied in decode, so that its translation
        # does not depend on the batch it happened to be in.
        limits = [self.max_new_tokens(len(item.ids)) for item in batch]
        # inference_mode is per thread: entered here, in the thread that runs the model.
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention_mask.to(model.device),
                num_beams=self.beam,
                do_sample=False,
                max_new_tokens=max(limits),
                **direction.generate_kwargs,
            )
        return output.tolist()

    def decode(self, batch: list[Item], rows: list[list[int]], direction: Direction) -> list[tuple[str, str | None]]:
        """Each item's translation, and why it stopped if not by itself.

        The reason is ``"max_length"`` (no ``</s>`` within its limit) or ``"factor"``
        (``</s>`` forced by the model at its own limit, which Bergamot models set to
        ``max_length_factor`` x the source tokens, as Marian does).
        """
        model = self.runner
        factor = getattr(model.config, "max_length_factor", None) or 0
        tokenizer = self.info.tokenizer
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        # M2M100Tokenizer (transformers 5) does not count its language tokens as
        # special, so decode() would keep the forced "__pt__": drop it here.
        drop = set(tokenizer.all_special_ids) | {direction.generate_kwargs.get("forced_bos_token_id")}
        kept, stops = [], []
        for item, row in zip(batch, rows, strict=True):
            limit = self.max_new_tokens(len(item.ids))
            new = row[1 : 1 + limit]  # row[0] is the decoder's start token
            end = next((n for n, token in enumerate(new) if token in eos_ids), None)
            if end is None:
                stops.append("max_length")
            elif factor > 0 and end >= math.ceil(factor * len(item.ids)):
                stops.append("factor")
            else:
                stops.append(None)
            kept.append([token for token in new[:end] if token not in drop])
        texts = tokenizer.batch_decode(kept, skip_special_tokens=True)
        return [(text.strip(), stop) for text, stop in zip(texts, stops, strict=True)]

    def max_new_tokens(self, input_length: int) -> int:
        """The most tokens a segment of ``input_length`` tokens may produce."""
        if self.max_length is not None:
            wanted = self.max_length
        else:
            # generation_config.max_length counts the decoder's start token.
            configured = (self._configured_max_length or 0) - 1
            limit = configured if configured >= _LIBRARY_MAX_LENGTH else self.position_limit()
            wanted = min(limit, math.ceil(_LENGTH_FACTOR * input_length) + _LENGTH_OFFSET)
        # Fixed or learned position tables end at their size.
        positions = getattr(self.info.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 1:
            wanted = min(wanted, positions - 1)
        return wanted

    def warn_cut(self, cut: dict[str, set[int]]) -> None:
        """Warn about the segments (numbered from 1) that stopped at a length limit, by reason (see :meth:`decode`)."""
        if cut["max_length"]:
            logger.warning(
                "%d segments stopped at the length limit and may be cut short (raise max_length?): %s",
                len(cut["max_length"]), numbers(sorted(cut["max_length"])),
            )
        if cut["factor"]:
            logger.warning(
                "%d segments stopped at the model's own length limit (%g x their source tokens) "
                "and may be cut short: %s",
                len(cut["factor"]), self.runner.config.max_length_factor, numbers(sorted(cut["factor"])),
            )

    def warn_unknown(self, todo: list[int], encoded: list[list[int]], offset: int, total: int) -> None:
        """Warn about segments that are mostly ``<unk>`` pieces for this model (numbered from ``offset + 1``)."""
        tokenizer = self.info.tokenizer
        unk, special = tokenizer.unk_token_id, set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
        if unk is None:
            return
        mostly_unknown = []
        for i, ids in zip(todo, encoded, strict=True):
            pieces = [token for token in ids if token not in special]
            unknown = pieces.count(unk)
            # A ratio, not a count: a long sentence with a few curly quotes or a ¥
            # that the vocabulary lacks is translated fine, and is not worth a warning.
            if 3 * unknown > len(pieces):
                mostly_unknown.append(offset + i + 1)
        if mostly_unknown:
            logger.warning(
                "%d of %d segments are mostly <unk> pieces for this model (emoji, other scripts?): %s",
                len(mostly_unknown), total, numbers(mostly_unknown),
            )
