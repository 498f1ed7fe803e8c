"""The torch-only greedy model (pipeline.models.bergamot.runner) against the transformers model it stands in for."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipeline.models import bergamot
from pipeline.models.bergamot.runner import BergamotGreedyModel, load_greedy
from pipeline.translate import Translator

FLORES_EN = Path(__file__).resolve().parents[1] / "corpora" / "flores200-devtest" / "eng_Latn.devtest"
ODD = ["", "   ", "A" * 200, "Hello </s> world <unk>", "😀 Привет 你好", "Good morning."]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bergamot.ensure_model("en-pt", tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def models(folder: Path):
    bergamot.register_auto()
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    full = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    light = load_greedy(folder, AutoConfig.from_pretrained(folder), beam=1, device="cpu", dtype="float32",
                        quantize=None)
    return full, light, AutoTokenizer.from_pretrained(folder)


def test_it_holds_every_tensor_of_the_checkpoint(models) -> None:
    full, light, _ = models
    assert isinstance(light, BergamotGreedyModel)
    theirs, ours = full.state_dict(), light.state_dict()
    assert theirs.keys() == ours.keys()
    for name, tensor in theirs.items():
        assert torch.equal(tensor, ours[name]), name
    assert light.generation_config.to_dict() == full.generation_config.to_dict()
    assert not light.training and light.device == torch.device("cpu")


@pytest.mark.parametrize("limit", [pytest.param(None, id="model-limit"), pytest.param(40, id="max-new-tokens")])
def test_same_tokens_as_the_transformers_model_on_a_padded_batch(models, limit: int | None) -> None:
    full, light, tokenizer = models
    texts = FLORES_EN.read_text(encoding="utf-8").splitlines()[:24] + ODD
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    kwargs = {"num_beams": 1, "do_sample": False} | ({"max_new_tokens": limit} if limit else {})
    with torch.inference_mode():
        expected = full.generate(**batch, **kwargs)
        got = light.generate(**batch, **kwargs)
    assert torch.equal(got, expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"num_beams": 2}, id="beam"),
        pytest.param({"do_sample": True}, id="sampling"),
        pytest.param({"use_cache": False}, id="no-cache"),
        pytest.param({"output_scores": True}, id="other-argument"),
    ],
)
def test_anything_but_plain_greedy_search_is_refused(models, kwargs: dict) -> None:
    _, light, tokenizer = models
    with pytest.raises(ValueError, match="plain greedy search only"):
        light.generate(**tokenizer(["Hello."], return_tensors="pt"), **kwargs)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"beam": 4}, id="beam"),
        pytest.param({"dtype": "bfloat16"}, id="dtype"),
        pytest.param({"quantize": "int8"}, id="int8"),
        pytest.param({"device": "cuda"}, id="device"),
    ],
)
def test_it_does_not_apply_to_other_settings(folder: Path, models, options: dict) -> None:
    full = models[0]
    settings = {"beam": 1, "device": "cpu", "dtype": "float32", "quantize": None} | options
    assert load_greedy(folder, full.config, **settings) is None


def test_it_does_not_apply_when_fast_greedy_is_off(folder: Path, models, monkeypatch: pytest.MonkeyPatch) -> None:
    full = models[0]
    monkeypatch.setattr(type(full), "fast_greedy", False)
    assert load_greedy(folder, full.config, beam=1, device="cpu", dtype="float32", quantize=None) is None


def test_a_checkpoint_missing_a_tensor_is_refused(folder: Path, models, tmp_path: Path) -> None:
    for path in folder.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    tensors = load_file(folder / "model.safetensors")
    del tensors["logits_bias"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="logits_bias"):
        load_greedy(tmp_path, models[0].config, beam=1, device="cpu", dtype="float32", quantize=None)


def test_the_translator_runs_it_by_default_and_the_transformers_model_otherwise(folder: Path) -> None:
    default = Translator(str(folder), workers=1)
    beam = Translator(str(folder), beam=2, workers=1)
    texts = ["Hello world.", "The cat sleeps on the mat."]
    assert default.translate(texts, "en", "pt-BR") == ["Olá, mundo.", "O gato dorme no tapete."]
    assert isinstance(default.generator.runner, BergamotGreedyModel)
    beam.translate(texts[:1], "en", "pt-BR")
    assert type(beam.generator.runner).__name__ == "BergamotForConditionalGeneration"
    # What needs the transformers model (tag alignment, scoring) still gets it.
    assert type(default.loaded.model).__name__ == "BergamotForConditionalGeneration"
