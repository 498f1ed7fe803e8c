"""The ``ctranslate2`` backend: a transformers checkpoint converted once, then run by CTranslate2.

A system chooses it with ``backend = "ctranslate2"`` (``--backend ctranslate2``);
its ``model`` is any Marian, NLLB, M2M100, mBART or T5/MADLAD checkpoint the
transformers backend takes. The checkpoint is converted on first use into the
model store (:mod:`pipeline.backends.ct2_store`), in float32 or, with
``quantize = "int8"``, in int8.

Everything but generation is the transformers backend's: the model is opened
by :func:`pipeline.models.open_model`, the language pair asked of its family
(NLLB/M2M100/mBART's target token becomes ``target_prefix``, Marian's ``>>xx<<``
and T5's task prefix are put before the source text), and segments go through
:class:`pipeline.translate.Translator`'s chunks, length sorting, token budget,
splitting of over-long segments and order restoring. Only the batches' token
ids go to ``ctranslate2.Translator.translate_batch`` (:class:`Ct2Generator`),
from ``workers`` threads at once (its ``inter_threads``), each with ``threads``
OpenMP threads (its ``intra_threads``).

Bergamot models stay on the transformers backend (or ``bergamot-native``):
CTranslate2 has no SSRU decoder.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.backends.generation import Seq2SeqGenerator
from pipeline.batching import Item
from pipeline.errors import ConfigError, ModelError
from pipeline.models import LoadedModel, ModelInfo
from pipeline.models.base import Direction
from pipeline.translate import Translator

if TYPE_CHECKING:
    from pipeline.config import SystemConfig

__all__ = ["CTranslate2Backend", "Ct2Generator", "Ct2Translator"]

BACKEND = "ctranslate2"
_INSTALL_HINT = "pip install 'mtpipe[ct2]' (ctranslate2 4.x)"
# What a report shows of a system, when set.
_SETTINGS = ("beam", "max_length", "batch_tokens", "device", "dtype", "threads", "workers", "quantize", "family")


class CTranslate2Backend:
    """``backend = "ctranslate2"``: the system's model, converted to CTranslate2 and run by it."""

    name: ClassVar[str] = BACKEND
    takes_workers: ClassVar[bool] = True
    takes_model: ClassVar[bool] = True

    def check_options(self, options: Mapping[str, Any], context: str) -> None:
        """Refuse what CTranslate2 cannot do, before any model loads.

        Raises:
            ConfigError: reranking, a Bergamot model or family, or ctranslate2 not installed.
        """
        if "rerank" in options:
            raise ConfigError(f"{context}: reranking needs the transformers backend (it scores with the torch model)",
                              hint="drop rerank, or the backend key (transformers runs it)")
        model, family = str(options.get("model", "")), options.get("family")
        if family == "bergamot" or (family is None and model.startswith("bergamot-")):
            raise ConfigError(f"{context}: CTranslate2 cannot run Bergamot models (their SSRU decoder)",
                              hint='drop backend = "ctranslate2" for this system, or use model = "bergamot-native"')
        if options.get("quantize") not in (None, "int8"):
            raise ConfigError(f"{context}: quantize {options['quantize']!r} is torch's; CTranslate2 quantizes with "
                              "int8 only", hint="use quantize int8 with the ctranslate2 backend")
        if importlib.util.find_spec("ctranslate2") is None:
            raise ConfigError(f"{context}: the ctranslate2 backend needs the ctranslate2 package", hint=_INSTALL_HINT)

    def settings(self, system: SystemConfig) -> dict[str, object]:
        """The backend's name and the system's decoding and hardware settings that are set."""
        return {"backend": BACKEND, **{key: getattr(system, key) for key in _SETTINGS
                                       if getattr(system, key) is not None}}

    def translator(self, system: SystemConfig, **overrides: Any) -> Ct2Translator:
        """A :class:`Ct2Translator` for the system; ``overrides``: ``threads``, ``workers``."""
        return Ct2Translator(
            system.model, family=system.family, beam=system.beam, max_length=system.max_length,
            batch_tokens=system.batch_tokens, device=system.device, dtype=system.dtype,
            threads=overrides.get("threads", system.threads), workers=overrides.get("workers", system.workers),
            quantize=system.quantize,
        )


class Ct2Translator:
    """Translate with one model on CTranslate2; the interface of :class:`pipeline.translate.Translator`.

    It offers no ``generator`` or ``loaded`` torch model: inline tags are placed by the
    diagonal fallback (as for the native engine), and quality estimates score with
    :attr:`forward`, the same checkpoint on transformers.

    Args: those of :class:`pipeline.translate.Translator`; ``quantize = "int8"`` converts
    and computes in int8, else ``dtype`` is the compute type.

    Raises:
        ConfigError: an option is out of range, or CTranslate2 cannot compute in the asked type on the device.
        ModelError: ctranslate2 is not installed.
    """

    def __init__(self, model: str, *, family: str | None = None, beam: int = 1, max_length: int | None = None,
                 batch_tokens: int = 2048, device: str = "cpu", dtype: str = "float32", threads: int | None = None,
                 workers: int | None = None, quantize: str | None = None) -> None:
        self._pipeline = _Pipeline(model, family=family, beam=beam, max_length=max_length, batch_tokens=batch_tokens,
                                   device=device, dtype=dtype, threads=threads, workers=workers, quantize=quantize)
        self._family = family
        self._forward: Translator | None = None

    @property
    def name(self) -> str:
        """The model's name, as given."""
        return self._pipeline.name

    @property
    def info(self) -> ModelInfo:
        """The checkpoint's config, tokenizer and family (no weights); raises for a family CTranslate2 cannot run."""
        return self._pipeline.info

    @property
    def forward(self) -> Translator:
        """The same checkpoint on the transformers backend (no weights read yet), for scores it alone gives."""
        if self._forward is None:
            self._forward = Translator(self.name, family=self._family, workers=1)
        return self._forward

    @property
    def workers(self) -> int:
        """Batches decoded at once (CTranslate2's ``inter_threads``)."""
        return self._pipeline.workers

    @property
    def threads(self) -> int | None:
        """OpenMP threads per batch (CTranslate2's ``intra_threads``)."""
        return self._pipeline.threads

    def settings(self) -> dict[str, Any]:
        """The cache and journal key: the transformers backend's, and the backend with its version."""
        return self._pipeline.settings()

    def supported_languages(self) -> list[str]:
        """The model's own language codes."""
        return self._pipeline.supported_languages()

    def check_direction(self, src_lang: str, tgt_lang: str) -> Direction:
        """How the model is asked for the pair (reads no weights, converts nothing).

        Raises:
            ConfigError: the model's family cannot run on CTranslate2.
            LanguageError: a code is unknown, or the model cannot translate the pair.
        """
        return self._pipeline.check_direction(src_lang, tgt_lang)

    @property
    def max_source_tokens(self) -> int:
        """The most tokens the model takes in one segment; longer ones are split."""
        return self._pipeline.max_source_tokens

    def count_tokens(self, text: str) -> int:
        """How many tokens the model's tokenizer cuts ``text`` into."""
        return self._pipeline.count_tokens(text)

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """Translate segments; one output per input, in order (see :meth:`pipeline.translate.Translator.translate`)."""
        return self._pipeline.translate(segments, src_lang, tgt_lang)

    def translate_iterable(self, segments: Iterable[str], src_lang: str, tgt_lang: str, *,
                           chunk_size: int = 1000) -> Iterator[str]:
        """Translate a stream, ``chunk_size`` segments sorted and batched at a time."""
        return self._pipeline.translate_iterable(segments, src_lang, tgt_lang, chunk_size=chunk_size)

    def translate_groups(self, groups: Iterable[list[str]], src_lang: str, tgt_lang: str) -> Iterator[list[str]]:
        """Each group's translations, in order; each group sorted and batched on its own."""
        return self._pipeline.translate_groups(groups, src_lang, tgt_lang)


class _Pipeline(Translator):
    # The transformers Translator's batching, with CTranslate2 generating.

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        from pipeline.models import resolve_device

        if self.quantize not in (None, "int8"):
            raise ConfigError(f"quantize {self.quantize!r} is torch's; CTranslate2 quantizes with int8 only",
                              hint="use quantize int8 with the ctranslate2 backend")
        self.compute_type = "int8" if self.quantize == "int8" else self.dtype
        self.ct2_device = resolve_device(self.device)  # auto: cuda when torch sees one
        supported = _import().get_supported_compute_types(self.ct2_device.partition(":")[0])
        if self.compute_type not in supported:
            raise ConfigError(f"CTranslate2 cannot compute in {self.compute_type} on {self.ct2_device} "
                              f"(it can: {', '.join(sorted(supported))})",
                              hint="use --dtype float32, or quantize int8")

    @property
    def info(self) -> ModelInfo:
        from pipeline.backends.ct2_store import check_family

        info = Translator.info.fget(self)  # type: ignore[attr-defined]
        check_family(info)
        return info

    @property
    def generator(self) -> Ct2Generator:  # type: ignore[override]
        if self._generator is None:
            load = {"device": self.ct2_device, "compute_type": self.compute_type, "threads": self.threads,
                    "workers": self.workers}
            self._generator = Ct2Generator(self.info, beam=self.beam, max_length=self.max_length, load=load)
        return self._generator  # type: ignore[return-value]

    def settings(self) -> dict[str, Any]:
        # int8 on CTranslate2 is not torch's int8, nor its float32 kernels torch's: a cache of their own.
        return {**super().settings(), "backend": f"{BACKEND}-{_import().__version__}"}


class Ct2Generator(Seq2SeqGenerator):
    """Generate with CTranslate2 what :class:`Seq2SeqGenerator` generates with transformers.

    Token ids go in and come out as the transformers generator's do (the converted
    vocabulary is our tokenizer's, id by id), so the :class:`~pipeline.translate.Translator`
    tokenizes, batches and decodes as for transformers. The checkpoint's generation
    settings that CTranslate2 has (``bad_words_ids``, ``no_repeat_ngram_size``,
    ``repetition_penalty``, ``length_penalty``, ``min_length``) are applied; as with
    transformers, each segment stops at its own length limit.

    Args:
        info: the checkpoint (a family CTranslate2 runs).
        beam: beam size (1: greedy).
        max_length: the most tokens to generate per segment (``None``: as transformers).
        load: ``device``, ``compute_type``, ``threads`` (``intra_threads``), ``workers`` (``inter_threads``).
    """

    def __init__(self, info: ModelInfo, *, beam: int, max_length: int | None, load: dict[str, Any]) -> None:
        super().__init__(info, beam=beam, max_length=max_length, load=load)
        self._vocabulary: list[str] = []
        self._ids: dict[str, int] = {}
        self._options: dict[str, Any] = {}
        self._start = 0
        self._eos_ids: set[int] = set()

    @property
    def loaded(self) -> LoadedModel:
        """The CTranslate2 translator, as ``model`` (converted on the first use of the checkpoint)."""
        if self._loaded is None:
            from pipeline.backends.ct2_store import converted, read_meta

            load = self._load
            folder = converted(self.info, load["compute_type"])
            meta = read_meta(folder)
            device, _, index = load["device"].partition(":")
            try:
                model = _import().Translator(str(folder), device=device, device_index=int(index or 0),
                                             compute_type=load["compute_type"], inter_threads=load["workers"],
                                             intra_threads=load["threads"] or 0)
            except (RuntimeError, ValueError) as err:
                raise ModelError(f"cannot load the CTranslate2 model {folder}: {err}",
                                 hint=f"delete {folder}: it is converted again on next use") from err
            self._vocabulary = meta["vocabulary"]
            self._ids = {token: i for i, token in enumerate(self._vocabulary)}
            self._start = meta["decoder_start_token_id"]
            self._options = self._generation_options(meta["generation"])
            self._configured_max_length = meta["generation"]["max_length"]
            self._loaded = LoadedModel(self.info.name, str(folder), model, self.info.tokenizer, self.info.config,
                                       self.info.family)
        return self._loaded

    def _generation_options(self, generation: dict[str, Any]) -> dict[str, Any]:
        # The checkpoint's generation settings, as translate_batch options.
        eos = generation["eos_token_id"]
        eos_ids = eos if isinstance(eos, list) else [eos if eos is not None else self.info.tokenizer.eos_token_id]
        self._eos_ids = set(eos_ids)
        size = len(self._vocabulary)
        # Marian's bad_words_ids [[<pad>]]: the converted model has no <pad> left to generate.
        suppress = [[self._vocabulary[i] for i in words] for words in generation["bad_words_ids"] or []
                    if all(i < size for i in words)]
        return {
            "end_token": [self._vocabulary[i] for i in eos_ids],
            "suppress_sequences": suppress or None,
            "no_repeat_ngram_size": generation["no_repeat_ngram_size"] or 0,
            "repetition_penalty": generation["repetition_penalty"] or 1.0,
            "length_penalty": generation["length_penalty"] if generation["length_penalty"] is not None else 1.0,
            # transformers counts the decoder's start token in min_length; CTranslate2 does not.
            "min_decoding_length": max(0, (generation["min_length"] or 0) - 1),
        }

    def generate(self, batch: list[Item], direction: Direction, model: Any) -> list[list[int]]:
        """The output ids of a batch, the decoder's start token first, as transformers gives them."""
        vocabulary, ids = self._vocabulary, self._ids
        unknown = vocabulary[self.info.tokenizer.unk_token_id or 0]
        source = [[vocabulary[i] if i < len(vocabulary) else unknown for i in item.ids] for item in batch]
        forced = direction.generate_kwargs.get("forced_bos_token_id")
        # generate()'s forced first token is CTranslate2's target prefix: both count it in the length.
        prefix = [[vocabulary[forced]] for _ in batch] if forced is not None else None
        limits = [self.max_new_tokens(len(item.ids)) for item in batch]
        results = model.translate_batch(
            source, prefix, beam_size=self.beam, max_decoding_length=max(limits),
            max_input_length=0,  # never truncate: over-long segments were split before
            return_end_token=True, **self._options,
        )
        return [[self._start, *(ids[token] for token in result.hypotheses[0])] for result in results]

    def decode(self, batch: list[Item], rows: list[list[int]], direction: Direction) -> list[tuple[str, str | None]]:
        """Each item's translation, and ``"max_length"`` when it stopped at its limit (no ``</s>``)."""
        tokenizer = self.loaded.tokenizer
        drop = set(tokenizer.all_special_ids) | {direction.generate_kwargs.get("forced_bos_token_id")}
        kept, stops = [], []
        for item, row in zip(batch, rows, strict=True):
            new = row[1 : 1 + self.max_new_tokens(len(item.ids))]
            end = next((n for n, token in enumerate(new) if token in self._eos_ids), None)
            stops.append("max_length" if end is None else None)
            kept.append([token for token in new[:end] if token not in drop])
        texts = tokenizer.batch_decode(kept, skip_special_tokens=True)
        return [(text.strip(), stop) for text, stop in zip(texts, stops, strict=True)]


def _import() -> Any:
    try:
        import ctranslate2
    except ImportError as err:
        raise ModelError(f"the ctranslate2 backend needs the ctranslate2 package ({err})", hint=_INSTALL_HINT) from err
    return ctranslate2
