"""The translation cache: hits make no model call, keys hold every setting, damage is reported."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.backends.generation import Seq2SeqGenerator
from pipeline.cache import (
    CACHE_ENV,
    TranslationCache,
    default_cache_path,
    model_identity,
    translate_chunks,
)
from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.translate import Translator
from tests.helpers.jobs import make_job

SEGMENTS = ["The rover sent a selfie.", "", "It landed in May.", "The rover sent a selfie."]


class Counter:
    """Wraps ``Seq2SeqGenerator.generate`` (what runs a Translator's model) and counts the segments it is asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.segments = 0
        original = Seq2SeqGenerator.generate
        lock = threading.Lock()  # batches may run in worker threads

        def counted(generator: Seq2SeqGenerator, batch: list, *rest: object) -> list:
            with lock:
                self.segments += len(batch)
            return original(generator, batch, *rest)

        monkeypatch.setattr(Seq2SeqGenerator, "generate", counted)


@pytest.fixture()
def translator(tiny_model: Callable[[str], Path]) -> Translator:
    return Translator(str(tiny_model("marian")), max_length=8)


def test_the_cache_lives_where_mtpipe_cache_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c.sqlite3"))
    assert default_cache_path() == tmp_path / "c.sqlite3"
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_path().name == "translations.sqlite3"
    assert "mtpipe" in default_cache_path().parts


def test_a_second_pass_is_served_from_the_cache(
    tmp_path: Path, translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = TranslationCache(tmp_path / "c.sqlite3")
    counter = Counter(monkeypatch)
    first = [pair for chunk in translate_chunks(translator, SEGMENTS, "en", "de", cache=cache) for pair in chunk]
    assert counter.segments == 3
    assert sqlite3.connect(tmp_path / "c.sqlite3").execute("PRAGMA journal_mode").fetchone() == ("wal",)
    counter.segments = 0
    again = [pair for chunk in translate_chunks(translator, SEGMENTS, "en", "de", cache=cache) for pair in chunk]
    assert counter.segments == 0, "a cache hit makes no model call"
    assert again == first
    assert [n for n, _ in first] == [0, 1, 2, 3] and first[0][1] == first[3][1]


def test_the_key_holds_the_settings_and_the_direction(
    tmp_path: Path, tiny_model: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = TranslationCache(tmp_path / "c.sqlite3")
    greedy = Translator(str(tiny_model("marian")), max_length=8)
    list(translate_chunks(greedy, SEGMENTS, "en", "de", cache=cache))
    counter = Counter(monkeypatch)
    list(translate_chunks(Translator(str(tiny_model("marian")), max_length=7), SEGMENTS, "en", "de", cache=cache))
    assert counter.segments == 3, "another max_length is another key"
    assert model_identity(greedy).startswith(f"{tiny_model('marian')}@")


def scores_of(folder: Path) -> dict:
    (result,) = json.loads((folder / "out" / "scores.json").read_text(encoding="utf-8"))["results"]
    return result


def counts(result: dict) -> tuple[int, int, int]:
    return result["segments_translated"], result["segments_from_cache"], result["segments_resumed"]


@pytest.mark.slow
def test_a_rerun_job_translates_nothing(
    tmp_path: Path,
    tiny_model: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = make_job(tmp_path / "a", tiny_model("marian"), lines=30)
    assert main(["-q", "run", str(first)]) == 0
    assert counts(scores_of(tmp_path / "a")) == (30, 0, 0) and scores_of(tmp_path / "a")["segments_per_s"] > 0
    counter = Counter(monkeypatch)
    capsys.readouterr()
    # Another folder: the task is not finished there, so only the cache can spare the model.
    second = make_job(tmp_path / "b", tiny_model("marian"), lines=30)
    assert main(["-q", "run", str(second)]) == 0
    assert counter.segments == 0
    name = "big.en-de.tiny.txt"
    assert (tmp_path / "a" / "out" / name).read_bytes() == (tmp_path / "b" / "out" / name).read_bytes()
    # Nothing was translated: no speed (a warm cache is not a fast model), and the cache is counted.
    cached = scores_of(tmp_path / "b")
    assert counts(cached) == (0, 30, 0)
    assert cached["segments_per_s"] is None and cached["tokens_per_s"] is None
    assert cached["peak_rss_mb"] > 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split("  ")[0] == "big" and "—, all from cache" in row
    assert row.split()[3] == "30" and row.split()[-8:-5] == ["0", "30", "0"]  # segs; translated, cached, resumed
    assert main(["-q", "run", "--no-cache", str(make_job(tmp_path / "c", tiny_model("marian"), lines=30))]) == 0
    assert counter.segments == 30, "--no-cache translates again"
    assert counts(scores_of(tmp_path / "c")) == (30, 0, 0)
    # Ten new lines after the thirty known ones: the figure is the ten's.
    counter.segments = 0
    assert main(["-q", "run", str(make_job(tmp_path / "d", tiny_model("marian"), lines=40))]) == 0
    assert counter.segments == 10
    partly = scores_of(tmp_path / "d")
    assert counts(partly) == (10, 30, 0) and partly["segments_per_s"] > 0
    assert partly["segments_per_s"] == pytest.approx(10 / partly["translation_seconds"], rel=0.05)
    capsys.readouterr()


class FakeClock:
    """``time.perf_counter`` for pipeline.cache, moved on only by the work the test says takes time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr("pipeline.cache.perf_counter", lambda: self.now)


class SlowTranslator:
    """A real translator whose every call takes 1 s of the fake clock per segment, one group at a time."""

    translate_groups = None  # not the wrapped translator's: translate_chunks calls translate() per group

    def __init__(self, translator: Translator, clock: FakeClock) -> None:
        self.translator, self.clock = translator, clock

    def __getattr__(self, name: str) -> object:  # name, info, beam... for the cache key
        return getattr(self.translator, name)

    def translate(self, segments: list[str], src_lang: str, tgt_lang: str) -> list[str]:
        self.clock.now += len(segments)
        return self.translator.translate(segments, src_lang, tgt_lang)


class GroupsTranslator(SlowTranslator):
    """Takes every group before translating any, as the ray engine does."""

    def translate_groups(self, groups, src_lang: str, tgt_lang: str):  # noqa: ANN001, ANN201
        for group in list(groups):
            yield self.translate(group, src_lang, tgt_lang) if group else []


@pytest.mark.parametrize(
    ("kind", "translated"),
    [
        # SEGMENTS[2] ("It landed in May.") is new: the first chunk translates it and fills the cache...
        pytest.param(SlowTranslator, [2], id="one-group-at-a-time"),
        # ... unless every chunk was looked up before the first was translated.
        pytest.param(GroupsTranslator, [2, 6, 10], id="all-groups-first"),
    ],
)
def test_only_the_translators_time_counts(
    tmp_path: Path, translator: Translator, monkeypatch: pytest.MonkeyPatch, kind: type, translated: list[int]
) -> None:
    from pipeline.cache import ChunkStats

    clock = FakeClock(monkeypatch)
    cache = TranslationCache(tmp_path / "c.sqlite3")
    list(translate_chunks(translator, SEGMENTS[:2], "en", "de", cache=cache))  # two of the four are known
    lookup = cache.get_many

    def slow_lookup(keys: list[str]) -> dict[str, str]:
        clock.now += 100  # cache lookups are not the model's time
        return lookup(keys)

    monkeypatch.setattr(cache, "get_many", slow_lookup)
    stats = ChunkStats()
    slow = kind(translator, clock)
    for _ in translate_chunks(slow, SEGMENTS * 3, "en", "de", cache=cache, chunk_size=4, stats=stats):
        clock.now += 1000  # nor is what the caller does with each chunk (journal, progress)
    assert stats.translated == translated
    assert stats.from_cache == 12 - len(translated)
    assert stats.seconds == len(translated)  # 1 s a segment in the translator, and nothing else


def test_a_damaged_cache_is_an_error_that_names_the_file(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = Path(os.environ[CACHE_ENV])
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"this is not an SQLite database, just garbage bytes " * 100)
    with pytest.raises(PipelineError, match="damaged or not a cache") as info:
        TranslationCache(damaged)
    assert info.value.hint == f"delete {damaged} or run with --no-cache"

    config = make_job(tmp_path, tiny_model("marian"), lines=5)
    assert main(["-q", "run", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"error: the translation cache {damaged} is damaged" in err
    assert f"hint: delete {damaged} or run with --no-cache" in err
    assert not (tmp_path / "out" / "big.en-de.tiny.txt").exists()
    assert main(["-q", "run", "--no-cache", str(config)]) == 0


def test_translate_uses_the_cache_unless_told_not_to(
    tmp_path: Path,
    tiny_model: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(line + "\n" for line in SEGMENTS), encoding="utf-8")
    argv = ["-q", "translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de", "--max-length", "8"]
    assert main([*argv, str(source)]) == 0
    first = capsys.readouterr().out
    counter = Counter(monkeypatch)
    assert main([*argv, str(source)]) == 0
    assert capsys.readouterr().out == first and counter.segments == 0
    assert main([*argv, "--no-cache", str(source)]) == 0
    assert capsys.readouterr().out == first and counter.segments == 3


def test_compare_takes_no_cache() -> None:
    from pipeline.cli_args import build_parser

    assert build_parser().parse_args(["compare", "--no-cache", "job.toml"]).no_cache is True
    assert build_parser().parse_args(["run", "job.toml"]).no_cache is False


def test_lines_of_an_older_decoding_revision_are_not_reused(
    tmp_path: Path, translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.cache as cache_module

    cache = TranslationCache(tmp_path / "c.sqlite3")
    monkeypatch.setattr(cache_module, "DECODING_REVISION", 1)
    list(translate_chunks(translator, SEGMENTS, "en", "de", cache=cache))
    monkeypatch.setattr(cache_module, "DECODING_REVISION", 2)
    counter = Counter(monkeypatch)
    list(translate_chunks(translator, SEGMENTS, "en", "de", cache=cache))
    assert counter.segments == 3, "a cache filled by older decoding code is not read"
