"""Shared fixtures: tiny real models of every family, built once per test session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import tinymodels


@pytest.fixture(autouse=True, scope="session")
def private_model_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded models are converted into a store of the test session's own, never the user's.

    Set in ``os.environ`` for the whole session, so that child processes (the CLI, Ray's workers)
    see it too; a test that sets ``MTPIPE_MODEL_STORE`` itself still wins.
    """
    path = tmp_path_factory.mktemp("model-store")
    before = os.environ.get("MTPIPE_MODEL_STORE")
    os.environ["MTPIPE_MODEL_STORE"] = str(path)
    yield path
    if before is None:
        del os.environ["MTPIPE_MODEL_STORE"]
    else:
        os.environ["MTPIPE_MODEL_STORE"] = before


@pytest.fixture(autouse=True)
def private_translation_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own translation cache: none reads the user's, or another test's."""
    monkeypatch.setenv("MTPIPE_CACHE", str(tmp_path_factory.mktemp("cache") / "translations.sqlite3"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_model(kind)``: the folder of a tiny model (``tinymodels.BUILDERS``), built on first use."""
    root = tmp_path_factory.mktemp("tinymodels")
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = tinymodels.BUILDERS[kind](root / kind)
        return built[kind]

    return get


@pytest.fixture(scope="session")
def tiny_translator(tiny_model: Callable[[str], Path]) -> Callable[[str], object]:
    """``tiny_translator(kind)``: a shared ``Translator`` for a tiny model, with short outputs (``max_length=8``).

    Random weights rarely produce ``</s>``, so outputs run to the length limit;
    a short one keeps tests fast. Tests that need other options build their own.
    """
    from pipeline.translate import Translator

    translators: dict[str, Translator] = {}

    def get(kind: str) -> Translator:
        if kind not in translators:
            translators[kind] = Translator(str(tiny_model(kind)), max_length=8)
        return translators[kind]

    return get
