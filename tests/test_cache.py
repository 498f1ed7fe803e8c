"""The translation cache: hits make no model call, keys hold every setting, damage is reported."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

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

SEGMENTS = ["The rover sent a selfie.", "", "It landed in May.", "The rover sent a selfie."]


class Counter:
    """Wraps ``Translator._generate`` and counts the segments it is asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.segments = 0
        original = Translator._generate
        lock = threading.Lock()  # batches may run in worker threads

        def counted(translator: Translator, batch: list, *rest: object) -> list:
            with lock:
                self.segments += len(batch)
            return original(translator, batch, *rest)

        monkeypatch.setattr(Translator, "_generate", counted)


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


def test_a_rerun_job_translates_nothing(
    tmp_path: Path, tiny_model: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_resume import make_job

    first = make_job(tmp_path / "a", tiny_model("marian"), lines=30)
    assert main(["-q", "run", str(first)]) == 0
    counter = Counter(monkeypatch)
    # Another folder: the task is not finished there, so only the cache can spare the model.
    second = make_job(tmp_path / "b", tiny_model("marian"), lines=30)
    assert main(["-q", "run", str(second)]) == 0
    assert counter.segments == 0
    name = "big.en-de.tiny.txt"
    assert (tmp_path / "a" / "out" / name).read_bytes() == (tmp_path / "b" / "out" / name).read_bytes()
    assert main(["-q", "run", "--no-cache", str(make_job(tmp_path / "c", tiny_model("marian"), lines=30))]) == 0
    assert counter.segments == 30, "--no-cache translates again"
    capsys.readouterr()


def test_a_damaged_cache_is_an_error_that_names_the_file(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from test_resume import make_job

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
    tmp_path: Path, tiny_model: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
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
    from pipeline.cli import build_parser

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
