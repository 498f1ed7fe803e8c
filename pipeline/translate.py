"""Translate segments with a seq2seq model: stream, sort by length, batch by tokens, restore order.

The :class:`Translator` opens its model lazily: the config and tokenizer
first (enough for :meth:`Translator.check_direction`), the weights on the
first translation. Within each chunk of the input, segments are sorted by
length and packed into batches whose padded size stays within a token budget,
then put back in input order (:mod:`pipeline.batching`). Empty lines stay
empty and aligned; a segment too long for the model is split (into sentences
first, see :func:`pipeline.batching.split_long`), its pieces translated and
joined again, never truncated without a warning. The model itself is run by
:class:`pipeline.backends.generation.Seq2SeqGenerator`.

On CPU, batches are decoded by several worker threads at once, each running
torch single-threaded, all sharing one copy of the model: torch releases the
GIL inside its operators, and one thread per core was measured 1.7-1.9x faster
than one thread, where one thread with 2 torch threads gains at most 1.3x and
collapses when a neighbour holds a core (docs/speed.md). Batches are formed
before they are handed out, so the output does not depend on the number of
workers. Tokenizing and decoding stay on the calling thread.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pipeline.backends.generation import Seq2SeqGenerator
from pipeline.batching import Chunk, assemble, chunks, count_done, cut_to_fit, token_batches
from pipeline.errors import ConfigError
from pipeline.languages import is_unspaced, parse_language
from pipeline.models import LoadedModel, ModelInfo, check_quantize, open_model, resolve_device, resolve_dtype
from pipeline.models.base import Direction
from pipeline.models.defaults import DEFAULT_MODEL
from pipeline.segment import Segmenter

__all__ = ["Translator", "usable_cores"]


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
        quantize: ``int8`` for torch's dynamic int8 quantization of the linear layers,
            ``int8-rows`` for int8 with a scale per row of activations (batch-independent;
            :mod:`pipeline.models.bergamot.int8`), CPU and float32 only; or ``None``.

    Raises:
        ConfigError: an option is out of range, or CUDA is asked for and not available.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, family: str | None = None, beam: int = 1, max_length: int | None = None,
        batch_tokens: int = 2048, device: str = "cpu", dtype: str = "float32", threads: int | None = None,
        workers: int | None = None, quantize: str | None = None,
    ) -> None:
        threads, workers = _checked(beam, batch_tokens, max_length, threads, workers, device, dtype, quantize)
        self.workers = workers
        self._model, self._family = model, family
        self.beam, self.max_length, self.batch_tokens = beam, max_length, batch_tokens
        self.device, self.dtype, self.threads, self.quantize = device, dtype, threads, quantize
        self._info: ModelInfo | None = None
        self._generator: Seq2SeqGenerator | None = None
        self._directions: dict[tuple[str, str], Direction] = {}
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
    def generator(self) -> Seq2SeqGenerator:
        """What runs the model (made on first use; it reads the weights on its own first use)."""
        if self._generator is None:
            load = {"device": self.device, "dtype": self.dtype, "threads": self.threads, "quantize": self.quantize}
            self._generator = Seq2SeqGenerator(self.info, beam=self.beam, max_length=self.max_length, load=load)
        return self._generator

    @property
    def loaded(self) -> LoadedModel:
        """The loaded model (its weights are read on first use)."""
        return self.generator.loaded

    def settings(self) -> dict[str, Any]:
        """What changes a translation besides the model's files and the text: the cache and journal key.

        Batching, threads, workers and the device do not change it (docs/speed.md).
        """
        return {"family": self.info.family.name, "beam": self.beam, "max_length": self.max_length,
                "dtype": self.dtype, "quantize": self.quantize}

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
        return self.generator.max_source_tokens

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
        translated = self.translate_groups(chunks(iter(segments), chunk_size), src_lang, tgt_lang)
        return (text for group in translated for text in group)

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

    def _chunks(self, groups: Iterator[list[str]], direction: Direction, joiner: str, src_lang: str
                ) -> Iterator[list[str]]:
        # Each chunk's translations: prepared and finished here, its batches decoded by _decoded.
        prepared = self._prepared(groups, direction, src_lang)
        decoded = _decoded(prepared, self.generator.generate, direction, self.workers)
        with contextlib.closing(decoded):  # an abandoned stream cancels the batches not started
            for chunk, rows in decoded:
                yield self._finish(chunk, rows, direction, joiner)

    def _prepared(self, groups: Iterator[list[str]], direction: Direction, src_lang: str
                  ) -> Iterator[tuple[Chunk, Any]]:
        # Each chunk prepared, with the model to run it (None: nothing to translate, no weights).
        offset = 0
        for group in groups:
            chunk = self._prepare(group, direction, offset, src_lang)
            offset += len(group)
            # Loaded here, on the calling thread, not by several workers at once.
            yield chunk, (self.generator.runner if chunk.batches else None)

    def _prepare(self, chunk: list[str], direction: Direction, offset: int, src_lang: str) -> Chunk:
        # Tokenize a chunk, split what is too long, and cut it into batches (calling thread only).
        todo = [i for i, text in enumerate(chunk) if text.strip()]
        if not todo:
            return Chunk(len(chunk), offset, {}, [])
        generator = self.generator
        generator.set_direction(direction)
        encoded = generator.encode([direction.prefix + chunk[i] for i in todo])
        generator.warn_unknown(todo, encoded, offset, len(chunk))
        items, pieces_of = cut_to_fit(
            chunk, todo, encoded, self.max_source_tokens, offset,
            encode=lambda texts: generator.encode([direction.prefix + text for text in texts]),
            segmenter=lambda: self._segmenter(src_lang),
        )
        return Chunk(len(chunk), offset, pieces_of, list(token_batches(items, self.batch_tokens)))

    def _segmenter(self, src_lang: str) -> Segmenter:
        # The source language's segmenter, made on the first segment that needs splitting.
        if src_lang not in self._segmenters:
            self._segmenters[src_lang] = Segmenter(src_lang)
        return self._segmenters[src_lang]

    def _finish(self, chunk: Chunk, rows: list[list[list[int]]], direction: Direction, joiner: str) -> list[str]:
        # Decode a chunk's batches and put its segments back together, in order (calling thread only).
        translated: dict[tuple[int, int], str] = {}
        cut: dict[str, set[int]] = {"max_length": set(), "factor": set()}
        for batch, batch_rows in zip(chunk.batches, rows, strict=True):
            for item, (text, stop) in zip(batch, self.generator.decode(batch, batch_rows, direction), strict=True):
                translated[item.segment, item.piece] = text
                if stop is not None:
                    cut[stop].add(chunk.offset + item.segment + 1)
        self.generator.warn_cut(cut)
        return assemble(chunk, translated, joiner)


def _decoded(prepared: Iterator[tuple[Chunk, Any]], generate: Callable[..., list[list[int]]], direction: Direction,
             workers: int) -> Iterator[tuple[Chunk, list[list[list[int]]]]]:
    # Each chunk with its batches' output ids. With one worker, batch after batch; with several,
    # every batch of a chunk goes to the pool, and one chunk ahead is prepared and queued.
    if workers == 1:
        for chunk, model in prepared:
            yield chunk, [count_done(batch, generate(batch, direction, model)) for batch in chunk.batches]
        return
    pending: deque[tuple[Chunk, list[Future]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mtpipe-batch") as pool:
        try:
            for entry in itertools.chain(prepared, [None]):
                if entry is not None:
                    chunk, model = entry
                    futures = [pool.submit(generate, batch, direction, model) for batch in chunk.batches]
                    pending.append((chunk, futures))
                while pending and (entry is None or len(pending) > 1):
                    done, futures = pending.popleft()
                    yield done, [count_done(batch, future.result())
                                 for batch, future in zip(done.batches, futures, strict=True)]
        finally:
            for _, futures in pending:  # an error or an abandoned stream: start nothing more
                for future in futures:
                    future.cancel()


def _checked(beam: int, batch_tokens: int, max_length: int | None, threads: int | None, workers: int | None,
             device: str, dtype: str, quantize: str | None) -> tuple[int | None, int]:
    # Check the options before any loading; the threads and workers to use (see Translator).
    _check_positive("beam", beam)
    _check_positive("batch_tokens", batch_tokens)
    for name, value in (("max_length", max_length), ("threads", threads), ("workers", workers)):
        if value is not None:
            _check_positive(name, value)
    resolve_dtype(dtype)
    torch_device = resolve_device(device)
    check_quantize(quantize, torch_device, dtype)
    on_cpu = torch_device == "cpu"
    if threads is None and on_cpu:
        threads = 1
    if workers is None:
        workers = max(1, usable_cores() // (threads or 1)) if on_cpu else 1
    return threads, workers


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
