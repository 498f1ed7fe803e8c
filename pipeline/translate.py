"""Translate segments with a seq2seq model: stream, sort by length, batch by tokens, restore order.

The :class:`Translator` opens its model lazily: the config and tokenizer
first (enough for :meth:`Translator.check_direction`), the weights on the
first translation. Within each chunk of the input, segments are sorted by
length and packed into batches whose padded size stays within a token budget,
then put back in input order. Empty lines stay empty and aligned; a segment
too long for the model is split (into sentences first, see
:func:`pipeline.segment.split_long`), its pieces translated and joined again,
never truncated without a warning.

On CPU, batches are decoded by several worker threads at once, each running
torch single-threaded, all sharing one copy of the model: torch releases the
GIL inside its operators, and one thread per core was measured 1.7-1.9x faster
than one thread, where one thread with 2 torch threads gains at most 1.3x and
collapses when a neighbour holds a core (docs/speed.md). Batches are formed
before they are handed out, so the output does not depend on the number of
workers. Tokenizing and decoding stay on the calling thread.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from pipeline.languages import is_unspaced, parse_language
from pipeline.models import (
    LoadedModel,
    ModelInfo,
    check_quantize,
    open_model,
    resolve_device,
    resolve_dtype,
)
from pipeline.models.registry import Direction
from pipeline.progress import batch_done
from pipeline.segment import Segmenter, split_long

__all__ = ["DEFAULT_MODEL", "Translator", "usable_cores"]

logger = logging.getLogger(__name__)


DEFAULT_MODEL = "bergamot-en-pt"

# A model that declares no input limit (T5's relative positions) gets this one,
# and none gets more: sentence-level MT models are trained on far shorter inputs.
_DEFAULT_MAX_SOURCE = 512
_MAX_SOURCE_CAP = 1024
# Unless max_length is given, a segment may produce up to factor x its input
# tokens + offset (after Marian's --max-length-factor): room for any real
# translation, and a stop for a model caught in a repetition loop.
_LENGTH_FACTOR = 3
_LENGTH_OFFSET = 10
# transformers' own default max_length, which a checkpoint without a generation
# config inherits: far too short for translation, so it is not taken as the model's.
_LIBRARY_MAX_LENGTH = 20


@dataclass
class _Chunk:
    # A chunk, tokenized and cut into batches.
    size: int
    offset: int  # of its first segment in the stream
    pieces_of: dict[int, int]  # segment (non-blank) -> how many pieces it was split into
    batches: list[list[_Item]]


@dataclass
class _Item:
    # One piece of a segment, as the model sees it.
    segment: int  # index in the chunk
    piece: int
    ids: list[int]


class Translator:
    """Translate segments with one model.

    Args:
        model: a built-in name, a local model folder or a Hugging Face hub id.
        family: the model family's name, to skip detection.
        beam: beam size (1: greedy).
        max_length: the most tokens to generate per segment (default: the
            model's generation config, and at most 3 x the input + 10).
        batch_tokens: budget per batch: padded batch size x longest input.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        dtype: ``float32``, ``float16`` or ``bfloat16``.
        threads: torch's intra-op threads per worker (``None``: 1 on CPU, torch's default on CUDA).
        workers: batches decoded at once, each by its own thread (``None``: on CPU,
            one per usable core divided by ``threads``; on CUDA, 1).
        quantize: ``int8`` for dynamic int8 quantization of the linear layers
            (CPU and float32 only), or ``None``.

    Raises:
        ConfigError: an option is out of range, or CUDA is asked for and not available.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        family: str | None = None,
        beam: int = 1,
        max_length: int | None = None,
        batch_tokens: int = 2048,
        device: str = "cpu",
        dtype: str = "float32",
        threads: int | None = None,
        workers: int | None = None,
        quantize: str | None = None,
    ) -> None:
        _check_positive("beam", beam)
        _check_positive("batch_tokens", batch_tokens)
        if max_length is not None:
            _check_positive("max_length", max_length)
        if threads is not None:
            _check_positive("threads", threads)
        if workers is not None:
            _check_positive("workers", workers)
        resolve_dtype(dtype)
        torch_device = resolve_device(device)
        check_quantize(quantize, torch_device, dtype)
        on_cpu = torch_device == "cpu"
        if threads is None and on_cpu:
            threads = 1
        if workers is None:
            workers = max(1, usable_cores() // (threads or 1)) if on_cpu else 1
        self.workers = workers
        self._model = model
        self._family = family
        self.beam = beam
        self.max_length = max_length
        self.batch_tokens = batch_tokens
        self._load_options = {"device": device, "dtype": dtype, "threads": threads, "quantize": quantize}
        self._info: ModelInfo | None = None
        self._loaded: LoadedModel | None = None
        self._directions: dict[tuple[str, str], Direction] = {}
        self._configured_max_length: int | None = None
        self._segmenters: dict[str, Segmenter] = {}

    @property
    def name(self) -> str:
        """The model's name, as given."""
        return self._model

    @property
    def info(self) -> ModelInfo:
        """The model's config, tokenizer and family (read on first use; no weights)."""
        if self._info is None:
            self._info = open_model(self._model, family=self._family)
        return self._info

    @property
    def loaded(self) -> LoadedModel:
        """The loaded model (its weights are read on first use)."""
        if self._loaded is None:
            loaded = self.info.load(**self._load_options)
            generation = loaded.model.generation_config
            # Each segment gets its own limit (see _generate): the config's
            # max_length is kept as the default one, and removed so that generate()
            # does not warn that max_new_tokens overrides it; forced_eos_token_id
            # (Marian, mBART) would put </s> at the batch's limit, hiding a cut and
            # making a segment's output depend on its batch.
            self._configured_max_length = generation.max_length
            generation.max_length = None
            generation.forced_eos_token_id = None
            self._loaded = loaded
        return self._loaded

    def supported_languages(self) -> list[str]:
        """The model's own language codes (empty when the model does not name its languages)."""
        info = self.info
        return info.family.supported_languages(info.config, info.tokenizer)

    def check_direction(self, src_lang: str, tgt_lang: str) -> Direction:
        """How the model is asked for ``src_lang -> tgt_lang``; reads no weights.

        Raises:
            LanguageError: a code is unknown, or the model cannot translate the pair.
            ModelError: the model cannot be found or read.
        """
        key = (src_lang, tgt_lang)
        if key not in self._directions:
            src, tgt = parse_language(src_lang), parse_language(tgt_lang)
            info = self.info
            self._directions[key] = info.family.direction(info.config, info.tokenizer, src, tgt)
        return self._directions[key]

    @property
    def max_source_tokens(self) -> int:
        """The most tokens the model takes in one segment, special tokens included.

        The smallest of the model's position table, its tokenizer's limit and
        its family's (a family's own engine may split longer inputs, as
        Bergamot's does at 128 tokens); 512 for a model that declares none.
        """
        family_limit = getattr(self.info.family, "max_source_tokens", None)
        return min(self._position_limit(), family_limit or _MAX_SOURCE_CAP)

    def _position_limit(self) -> int:
        # What the model's position table and tokenizer allow (also the default cap on outputs).
        config, tokenizer = self.info.config, self.info.tokenizer
        limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
        # Tokenizers without a limit report a huge sentinel (int(1e30)).
        sane = [value for value in limits if isinstance(value, int) and 0 < value < 1_000_000]
        return min(min(sane, default=_DEFAULT_MAX_SOURCE), _MAX_SOURCE_CAP)

    def count_tokens(self, text: str) -> int:
        """How many tokens the model's tokenizer cuts ``text`` into (no special tokens, no prefix)."""
        return len(self.info.tokenizer(text, add_special_tokens=False)["input_ids"])

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """Translate segments; one output per input, in order (empty for an empty or blank input).

        All segments are sorted and batched together: for a stream, use :meth:`translate_iterable`.

        Raises:
            LanguageError: a code is unknown, or the model cannot translate the pair.
            ModelError: the model cannot be found or loaded.
        """
        return list(self.translate_iterable(segments, src_lang, tgt_lang, chunk_size=max(1, len(segments))))

    def translate_iterable(
        self, segments: Iterable[str], src_lang: str, tgt_lang: str, *, chunk_size: int = 1000
    ) -> Iterator[str]:
        """Translate a stream: ``chunk_size`` segments at a time are sorted, batched and yielded in order.

        The direction is checked at once, before anything is read or translated.

        Raises:
            ConfigError: ``chunk_size`` is below 1.
            LanguageError: a code is unknown, or the model cannot translate the pair.
        """
        _check_positive("chunk_size", chunk_size)
        direction = self.check_direction(src_lang, tgt_lang)
        joiner = "" if is_unspaced(parse_language(tgt_lang)) else " "
        return self._stream(iter(segments), direction, joiner, chunk_size, src_lang)

    def translate_groups(self, groups: Iterable[list[str]], src_lang: str, tgt_lang: str) -> Iterator[list[str]]:
        """Each group's translations, in order; each group is sorted and batched on its own.

        With several workers, the next group's batches start before this one's
        are collected, so the workers do not wait at group boundaries.

        Raises:
            LanguageError: a code is unknown, or the model cannot translate the pair.
        """
        direction = self.check_direction(src_lang, tgt_lang)
        joiner = "" if is_unspaced(parse_language(tgt_lang)) else " "
        return self._chunks((list(group) for group in groups), direction, joiner, src_lang)

    def _stream(
        self, segments: Iterator[str], direction: Direction, joiner: str, chunk_size: int, src_lang: str
    ) -> Iterator[str]:
        chunks = iter(lambda: list(itertools.islice(segments, chunk_size)), [])
        for translated in self._chunks(chunks, direction, joiner, src_lang):
            yield from translated

    def _chunks(
        self, chunks: Iterator[list[str]], direction: Direction, joiner: str, src_lang: str
    ) -> Iterator[list[str]]:
        # Each chunk's translations. With one worker, batch after batch; with several, every
        # batch of a chunk goes to the pool, and one chunk ahead is prepared and queued.
        offset = 0
        if self.workers == 1:
            for chunk in chunks:
                prepared = self._prepare(chunk, direction, offset, src_lang)
                offset += len(chunk)
                model = self.loaded.model if prepared.batches else None  # nothing to translate: no weights
                rows = [_counted(batch, self._generate(batch, direction, model)) for batch in prepared.batches]
                yield self._finish(prepared, rows, direction, joiner)
            return
        pending: deque[tuple[_Chunk, list[Future]]] = deque()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mtpipe-batch") as pool:
            try:
                for chunk in itertools.chain(chunks, [None]):
                    if chunk is not None:
                        prepared = self._prepare(chunk, direction, offset, src_lang)
                        offset += len(chunk)
                        # Loaded here, not by several workers at once; not at all for a chunk with nothing to do.
                        model = self.loaded.model if prepared.batches else None
                        futures = [pool.submit(self._generate, batch, direction, model) for batch in prepared.batches]
                        pending.append((prepared, futures))
                    while pending and (chunk is None or len(pending) > 1):
                        done, futures = pending.popleft()
                        rows = [_counted(batch, future.result()) for batch, future in zip(done.batches, futures)]
                        yield self._finish(done, rows, direction, joiner)
            finally:
                for _, futures in pending:  # an error or an abandoned stream: start nothing more
                    for future in futures:
                        future.cancel()

    def _prepare(self, chunk: list[str], direction: Direction, offset: int, src_lang: str) -> _Chunk:
        # Tokenize a chunk, split what is too long, and cut it into batches (calling thread only).
        todo = [i for i, text in enumerate(chunk) if text.strip()]
        if not todo:
            return _Chunk(len(chunk), offset, {}, [])
        for attr, value in direction.tokenizer_attrs.items():
            setattr(self.loaded.tokenizer, attr, value)
        encoded = self._encode([direction.prefix + chunk[i] for i in todo])
        self._warn_unknown(todo, encoded, offset, len(chunk))

        items: list[_Item] = []
        pieces_of = {i: 1 for i in todo}
        limit = self.max_source_tokens
        for i, ids in zip(todo, encoded):
            if len(ids) <= limit:
                items.append(_Item(i, 0, ids))
                continue
            pieces = split_long(chunk[i], limit, lambda text: len(self._encode([direction.prefix + text])[0]),
                                segmenter=self._segmenter(src_lang))
            logger.warning(
                "segment %d has %d tokens, more than the %d the model takes: translated in %d pieces",
                offset + i + 1, len(ids), limit, len(pieces),
            )
            pieces_of[i] = len(pieces)
            for n, piece_ids in enumerate(self._encode([direction.prefix + piece for piece in pieces])):
                if len(piece_ids) > limit:
                    # Only when one character alone is more tokens than the model takes.
                    logger.warning("segment %d: piece %d of %d has %d tokens even alone; its last %d are cut",
                                   offset + i + 1, n + 1, len(pieces), len(piece_ids), len(piece_ids) - limit)
                    piece_ids = piece_ids[: limit - 1] + piece_ids[-1:]
                items.append(_Item(i, n, piece_ids))
        return _Chunk(len(chunk), offset, pieces_of, list(self._batches(items)))

    def _segmenter(self, src_lang: str) -> Segmenter:
        # The source language's segmenter, made on the first segment that needs splitting.
        if src_lang not in self._segmenters:
            self._segmenters[src_lang] = Segmenter(src_lang)
        return self._segmenters[src_lang]

    def _finish(self, chunk: _Chunk, rows: list[list[list[int]]], direction: Direction, joiner: str) -> list[str]:
        # Decode a chunk's batches and put its segments back together, in order (calling thread only).
        translated: dict[tuple[int, int], str] = {}
        cut: dict[str, set[int]] = {"max_length": set(), "factor": set()}
        for batch, batch_rows in zip(chunk.batches, rows):
            for item, (text, stop) in zip(batch, self._decode(batch, batch_rows, direction)):
                translated[item.segment, item.piece] = text
                if stop is not None:
                    cut[stop].add(chunk.offset + item.segment + 1)
        if cut["max_length"]:
            logger.warning(
                "%d segments stopped at the length limit and may be cut short (raise max_length?): %s",
                len(cut["max_length"]), _numbers(sorted(cut["max_length"])),
            )
        if cut["factor"]:
            logger.warning(
                "%d segments stopped at the model's own length limit (%g x their source tokens) "
                "and may be cut short: %s",
                len(cut["factor"]), self.loaded.model.config.max_length_factor, _numbers(sorted(cut["factor"])),
            )
        return [
            joiner.join(translated[i, n] for n in range(chunk.pieces_of[i])) if i in chunk.pieces_of else ""
            for i in range(chunk.size)
        ]

    def _encode(self, texts: list[str]) -> list[list[int]]:
        # verbose=False: no "longer than the maximum sequence length" notice; long segments are split here.
        return self.loaded.tokenizer(texts, verbose=False)["input_ids"]

    def _batches(self, items: list[_Item]) -> Iterator[list[_Item]]:
        # Longest first, so that a budget too small for the longest input shows at once.
        ordered = sorted(items, key=lambda item: len(item.ids), reverse=True)
        batch: list[_Item] = []
        for item in ordered:
            # The first item of a batch is its longest: the padded size is (n + 1) x that.
            if batch and (len(batch) + 1) * len(batch[0].ids) > self.batch_tokens:
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch

    def _generate(self, batch: list[_Item], direction: Direction, model: Any) -> list[list[int]]:
        # The model's output ids for a batch. Torch only (no tokenizer): runs in worker threads.
        import torch

        pad = self.info.tokenizer.pad_token_id
        width = len(batch[0].ids)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
            attention_mask[row, : len(item.ids)] = 1
        # Each segment has its own limit, applied in _decode, so that its translation
        # does not depend on the batch it happened to be in.
        limits = [self._max_new_tokens(len(item.ids)) for item in batch]
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

    def _decode(
        self, batch: list[_Item], rows: list[list[int]], direction: Direction
    ) -> list[tuple[str, str | None]]:
        # Each item's translation, and why it stopped if not by itself: "max_length" (no </s>
        # within its limit) or "factor" (</s> forced by the model at its own limit, which
        # Bergamot models set to max_length_factor x the source tokens, as Marian does).
        loaded = self.loaded
        factor = getattr(loaded.model.config, "max_length_factor", None) or 0
        tokenizer = loaded.tokenizer
        eos = loaded.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        # M2M100Tokenizer (transformers 5) does not count its language tokens as
        # special, so decode() would keep the forced "__pt__": drop it here.
        drop = set(tokenizer.all_special_ids) | {direction.generate_kwargs.get("forced_bos_token_id")}
        kept, stops = [], []
        for item, row in zip(batch, rows):
            limit = self._max_new_tokens(len(item.ids))
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
        return [(text.strip(), stop) for text, stop in zip(texts, stops)]

    def _max_new_tokens(self, input_length: int) -> int:
        if self.max_length is not None:
            wanted = self.max_length
        else:
            # generation_config.max_length counts the decoder's start token.
            configured = (self._configured_max_length or 0) - 1
            limit = configured if configured >= _LIBRARY_MAX_LENGTH else self._position_limit()
            wanted = min(limit, math.ceil(_LENGTH_FACTOR * input_length) + _LENGTH_OFFSET)
        # Fixed or learned position tables end at their size.
        positions = getattr(self.info.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 1:
            wanted = min(wanted, positions - 1)
        return wanted

    def _warn_unknown(self, todo: list[int], encoded: list[list[int]], offset: int, total: int) -> None:
        tokenizer = self.loaded.tokenizer
        unk, special = tokenizer.unk_token_id, set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
        if unk is None:
            return
        mostly_unknown = []
        for i, ids in zip(todo, encoded):
            pieces = [token for token in ids if token not in special]
            unknown = pieces.count(unk)
            # A ratio, not a count: a long sentence with a few curly quotes or a ¥
            # that the vocabulary lacks is translated fine, and is not worth a warning.
            if 3 * unknown > len(pieces):
                mostly_unknown.append(offset + i + 1)
        if mostly_unknown:
            logger.warning(
                "%d of %d segments are mostly <unk> pieces for this model (emoji, other scripts?): %s",
                len(mostly_unknown), total, _numbers(mostly_unknown),
            )


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _counted(batch: list[_Item], rows: list[list[int]]) -> list[list[int]]:
    # A batch is decoded: tell a progress listener how many segments it finished (pieces of a split one count once).
    batch_done(sum(1 for item in batch if item.piece == 0))
    return rows


def _numbers(segments: list[int], limit: int = 10) -> str:
    # Segment numbers for a log line: the first few.
    more = f" ... ({len(segments)} in all)" if len(segments) > limit else ""
    return ", ".join(map(str, segments[:limit])) + more


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
