"""The ctranslate2 backend: parity with transformers on every family it runs, the converted-model store, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.backends import BACKENDS, backend_for, ct2_store
from pipeline.backends.ct2 import Ct2Translator
from pipeline.cache import settings_key
from pipeline.cli import main
from pipeline.config import parse_config
from pipeline.errors import ConfigError, ModelError
from pipeline.models import ModelInfo
from pipeline.translate import Translator
from tests.helpers.jobs import article_lines, make_job

pytest.importorskip("ctranslate2", reason="the ctranslate2 backend's tests need ctranslate2 (pip install '.[ct2]')")

ROOT = Path(__file__).resolve().parents[1]
# Long and short lines, and some over the tiny models' 64 positions (split, then joined).
LINES = (ROOT / "corpora" / "flores200-devtest" / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[100:124]
LINES += ["", "Hello.", "   "]


@pytest.fixture(autouse=True)
def quiet(caplog: pytest.LogCaptureFixture) -> None:
    # Random weights: every segment stops at the length limit, and the long ones are split; both warn.
    caplog.set_level(logging.ERROR)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model store of the test's own, so that a conversion is seen to happen (or not)."""
    monkeypatch.setenv("MTPIPE_MODEL_STORE", str(tmp_path / "store"))
    return tmp_path / "store" / "ctranslate2"


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models converted during the test, by name."""
    converted: list[str] = []
    real = ct2_store._convert

    def counting(info: ModelInfo, quantization: str, out: Path) -> None:
        converted.append(info.name)
        return real(info, quantization, out)

    monkeypatch.setattr(ct2_store, "_convert", counting)
    return converted


@pytest.mark.parametrize(("kind", "src", "tgt", "max_length"), [
    pytest.param("marian", "en", "de", 8, id="marian"),
    pytest.param("marian", "en", "de", None, id="marian-model-limit"),
    pytest.param("marian-multi", "en", "pt-BR", 8, id="marian-multi-target-token"),
    pytest.param("nllb", "en", "pt", 8, id="nllb-target-prefix"),
    pytest.param("m2m100", "en", "pt", 8, id="m2m100-target-prefix"),
    pytest.param("mbart", "en", "pt", 8, id="mbart50-target-prefix"),
    pytest.param("t5", "en", "de", 8, id="t5-task-prefix"),
    pytest.param("madlad", "en", "pt", None, id="madlad-target-token"),
])
def test_greedy_float32_output_is_the_transformers_backends(
    tiny_model: Callable[[str], Path], kind: str, src: str, tgt: str, max_length: int | None
) -> None:
    folder = str(tiny_model(kind))
    expected = Translator(folder, max_length=max_length, workers=1).translate(LINES, src, tgt)
    translated = Ct2Translator(folder, max_length=max_length, workers=1).translate(LINES, src, tgt)
    assert translated == expected
    assert len(translated) == len(LINES) and translated[-3] == translated[-1] == ""


def test_several_workers_and_small_batches_keep_order_and_output(tiny_model: Callable[[str], Path]) -> None:
    folder = str(tiny_model("nllb"))
    one = Ct2Translator(folder, max_length=8, workers=1).translate(LINES, "en", "pt")
    many = Ct2Translator(folder, max_length=8, workers=2, batch_tokens=64)
    assert list(many.translate_iterable(LINES, "en", "pt", chunk_size=5)) == one


def test_conversion_is_cached_in_the_store(tiny_model: Callable[[str], Path], store: Path,
                                           conversions: list[str]) -> None:
    folder = str(tiny_model("marian"))
    first = Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:4], "en", "de")
    (converted,) = store.iterdir()
    assert converted.name.startswith("marian-float32-")
    written = (converted / "model.bin").stat().st_mtime_ns
    again = Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:4], "en", "de")
    assert again == first and conversions == [folder]
    assert (converted / "model.bin").stat().st_mtime_ns == written
    assert not [p for p in store.parent.rglob("*.partial")]


def test_each_quantization_is_a_store_entry_of_its_own(tiny_model: Callable[[str], Path], store: Path,
                                                       conversions: list[str]) -> None:
    folder = str(tiny_model("marian"))
    float32 = Ct2Translator(folder, max_length=8, workers=1)
    int8 = Ct2Translator(folder, max_length=8, workers=1, quantize="int8")
    assert len(int8.translate(LINES, "en", "de")) == len(LINES)
    float32.translate(LINES[:2], "en", "de")
    assert sorted(p.name.split("-")[1] for p in store.iterdir()) == ["float32", "int8"]
    assert len(conversions) == 2
    # Nor do the two share cache lines with each other or with transformers.
    keys = [settings_key(t) for t in (float32, int8, Translator(folder, max_length=8, workers=1))]
    assert len({json.dumps(key, sort_keys=True) for key in keys}) == 3


@pytest.mark.parametrize("damage", [
    pytest.param(lambda folder: (folder / "model.bin").write_bytes(b"half"), id="truncated-weights"),
    pytest.param(lambda folder: (folder / "mtpipe-manifest.json").unlink(), id="no-manifest"),
    pytest.param(lambda folder: (folder / "stray.bin").write_bytes(b"x"), id="unlisted-file"),
])
def test_a_damaged_store_entry_is_converted_again_not_used(
    tiny_model: Callable[[str], Path], store: Path, conversions: list[str], damage: Callable[[Path], object]
) -> None:
    folder = str(tiny_model("t5"))
    first = Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:4], "en", "de")
    (converted,) = store.iterdir()
    damage(converted)
    assert Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:4], "en", "de") == first
    assert len(conversions) == 2
    assert [p.name for p in store.iterdir()] == [converted.name]
    ct2_store.verify_folder(converted, hint="")  # whole again


def test_a_half_written_conversion_is_never_seen(tiny_model: Callable[[str], Path], store: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = str(tiny_model("marian"))

    def killed(staging: Path, final: Path, **_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ct2_store, "publish_folder", killed)
    with pytest.raises(Exception, match="No space left on device"):
        Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:2], "en", "de")
    assert list(store.iterdir()) == []  # the staging folder went with the failure
    monkeypatch.undo()
    monkeypatch.setenv("MTPIPE_MODEL_STORE", str(store.parent))
    # A staging folder left by a killed process is ignored.
    (store / ".marian-float32-x.partial").mkdir()
    (store / ".marian-float32-x.partial" / "model.bin").write_bytes(b"half")
    assert Ct2Translator(folder, max_length=8, workers=1).translate(LINES[:2], "en", "de")[1]


def test_vocabulary_keeps_ids_and_makes_every_token_unique(tiny_model: Callable[[str], Path]) -> None:
    from pipeline.models import open_model

    info = open_model(str(tiny_model("m2m100")))
    tokens = ct2_store.vocabulary(info.tokenizer, info.config.vocab_size)
    assert len(tokens) == len(set(tokens)) == info.config.vocab_size
    assert tokens[info.tokenizer.convert_tokens_to_ids("__pt__")] == "__pt__"
    assert tokens[info.tokenizer.unk_token_id] == "<unk>"


# Errors: one line, naming the thing and the fix.

def test_a_bergamot_model_is_refused_before_any_conversion(tiny_model: Callable[[str], Path],
                                                           conversions: list[str]) -> None:
    translator = Ct2Translator(str(tiny_model("bergamot")))
    with pytest.raises(ConfigError, match=r"is a Bergamot model, which CTranslate2 cannot run \(its SSRU decoder\)"):
        translator.check_direction("en", "pt")
    assert conversions == []


def test_an_unknown_family_is_named_with_the_known_ones(tiny_model: Callable[[str], Path]) -> None:
    with pytest.raises(ModelError, match=r"unknown model family 'mariann' \(known: bergamot, .*marian"):
        Ct2Translator(str(tiny_model("marian")), family="mariann").check_direction("en", "de")


def test_a_family_ctranslate2_has_no_loader_for_is_refused() -> None:
    info = SimpleNamespace(name="opus-x", family=SimpleNamespace(name="opus"), config=SimpleNamespace())
    with pytest.raises(ConfigError, match=r"cannot run model 'opus-x' \(opus family, SimpleNamespace\); it runs the "
                                          r"m2m100, madlad, marian, mbart, nllb, t5 families"):
        ct2_store.check_family(info)  # type: ignore[arg-type]


def test_torchs_int8_rows_is_refused_not_run_in_float32() -> None:
    with pytest.raises(ConfigError, match=r"quantize 'int8-rows' is torch's; CTranslate2 quantizes with int8 only"):
        Ct2Translator("opus-x", quantize="int8-rows")


def test_compute_types_the_device_lacks_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"CTranslate2 cannot compute in float16 on cpu \(it can: .*float32"):
        Ct2Translator("unused", dtype="float16")


@pytest.mark.parametrize(("system", "message"), [
    pytest.param({"model": "x", "backend": "ct3"},
                 r"system 's': unknown backend 'ct3' \(known: bergamot-native, ctranslate2, transformers\)",
                 id="unknown-backend"),
    pytest.param({"model": "bergamot-en-pt", "backend": "ctranslate2"},
                 r"system 's': CTranslate2 cannot run Bergamot models \(their SSRU decoder\)", id="bergamot-name"),
    pytest.param({"model": "x", "family": "bergamot", "backend": "ctranslate2"},
                 r"CTranslate2 cannot run Bergamot models", id="bergamot-family"),
    pytest.param({"model": "bergamot-native", "backend": "ctranslate2"},
                 r"model 'bergamot-native' is a backend of its own and cannot run on backend 'ctranslate2'",
                 id="native-model"),
    pytest.param({"model": "x", "backend": "bergamot-native"},
                 r"backend 'bergamot-native' runs its own model only, not 'x'", id="native-backend"),
    pytest.param({"model": "x", "backend": "ctranslate2", "rerank": "tuned"},
                 r"reranking needs the transformers backend", id="rerank"),
    pytest.param({"model": "x", "backend": "ctranslate2", "quantize": "int8-rows"},
                 r"system 's': quantize 'int8-rows' is torch's; CTranslate2 quantizes with int8 only",
                 id="int8-rows"),
])
def test_job_backend_errors(tmp_path: Path, system: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config({"corpora": [{"name": "c", "source": "c.txt", "src_lang": "en", "tgt_langs": ["de"]}],
                      "systems": [{"name": "s", **system}]}, tmp_path / "job.toml")
    assert "\n" not in raised.value.message


def test_backend_for_picks_by_key_then_by_model_name() -> None:
    assert "ctranslate2" in BACKENDS
    assert backend_for("some/model").name == "transformers"
    assert backend_for("some/model", "ctranslate2").name == "ctranslate2"
    assert backend_for("bergamot-native").name == "bergamot-native"
    assert backend_for("bergamot-native", "bergamot-native").name == "bergamot-native"


def test_a_job_system_takes_the_backend_key_and_reports_it(tmp_path: Path) -> None:
    job = parse_config({"corpora": [{"name": "c", "source": "c.txt", "src_lang": "en", "tgt_langs": ["de"]}],
                        "systems": [{"name": "s", "model": "m", "backend": "ctranslate2", "quantize": "int8"}]},
                       tmp_path / "job.toml")
    (system,) = job.systems
    assert system.backend == "ctranslate2"
    assert backend_for(system.model, system.backend).settings(system) == {
        "backend": "ctranslate2", "beam": 1, "batch_tokens": 2048, "device": "cpu", "dtype": "float32",
        "quantize": "int8"}


# The command line and jobs.

def test_translate_command_with_backend_ctranslate2(tiny_model: Callable[[str], Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(line + "\n" for line in LINES[:6]), encoding="utf-8")
    common = ["translate", "--src", "en", "--tgt", "de", "--model", str(tiny_model("marian")), "--max-length", "8",
              "--no-cache", str(source)]
    assert main(common) == 0
    expected = capsys.readouterr().out
    assert main([*common, "--backend", "ctranslate2"]) == 0
    assert capsys.readouterr().out == expected
    assert main([*common, "--backend", "ctranslate2", "--quantize", "int8"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6


def test_translate_command_refuses_a_bergamot_model_in_one_line(tiny_model: Callable[[str], Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n", encoding="utf-8")
    code = main(["translate", "--src", "en", "--tgt", "pt", "--model", str(tiny_model("bergamot")),
                 "--backend", "ctranslate2", str(source)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "CTranslate2 cannot run" in errors[0]


def test_a_job_on_ctranslate2_resumes_and_reuses_its_cache(tiny_model: Callable[[str], Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           conversions: list[str]) -> None:
    config = make_job(tmp_path / "job", tiny_model("marian"), lines=24)
    text = config.read_text(encoding="utf-8").replace('name = "tiny"\n', 'name = "tiny"\nbackend = "ctranslate2"\n')
    config.write_text(text, encoding="utf-8")
    assert main(["run", str(config), "-q"]) == 0
    output = (tmp_path / "job" / "out" / "big.en-de.tiny.txt").read_text(encoding="utf-8").splitlines()
    expected = Translator(str(tiny_model("marian")), max_length=8, workers=1).translate(article_lines(24), "en", "de")
    assert output == expected
    # Run again elsewhere: every line from the cache, nothing converted again.
    assert main(["run", str(config), "-q", "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "big.en-de.tiny.txt").read_text(encoding="utf-8").splitlines() == expected
    assert len(conversions) <= 1
    capsys.readouterr()
