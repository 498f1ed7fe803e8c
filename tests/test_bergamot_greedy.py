"""The lean greedy loop (pipeline.models.bergamot.greedy) against transformers' own generate loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.models import bergamot

FLORES_EN = Path(__file__).resolve().parents[1] / "corpora" / "flores200-devtest" / "eng_Latn.devtest"
ODD = ["", "   ", "A" * 200, "Hello </s> world <unk>", "😀 Привет 你好", "Good morning."]


@pytest.fixture(scope="module")
def model_and_tokenizer(tmp_path_factory):
    folder = bergamot.ensure_model("en-pt", tmp_path_factory.mktemp("store"))
    bergamot.register_auto()
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    return AutoModelForSeq2SeqLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def generate(model, batch, fast: bool, **kwargs) -> torch.Tensor:
    before = model.fast_greedy
    model.fast_greedy = fast
    try:
        return model.generate(**batch, **kwargs)
    finally:
        model.fast_greedy = before


def lines(count: int) -> list[str]:
    flores = FLORES_EN.read_text(encoding="utf-8").splitlines()[:count]
    return flores + ODD


@pytest.mark.slow
def test_fast_greedy_equals_transformers_at_batch_size_one(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    for line in lines(25):
        batch = tokenizer([line], return_tensors="pt")
        fast, slow = generate(model, batch, True), generate(model, batch, False)
        assert fast.tolist() == slow.tolist(), line


@pytest.mark.parametrize(
    "max_new_tokens",
    [pytest.param(None, id="source-limit", marks=pytest.mark.slow), pytest.param(3, id="max-new-tokens")],
)
def test_fast_greedy_batches_keep_shape_and_padding(model_and_tokenizer, max_new_tokens):
    model, tokenizer = model_and_tokenizer
    batch = tokenizer(lines(6), return_tensors="pt", padding=True)
    kwargs = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
    fast, slow = generate(model, batch, True, **kwargs), generate(model, batch, False, **kwargs)
    assert fast.shape == slow.shape
    texts = tokenizer.batch_decode(fast, skip_special_tokens=True)
    assert texts == tokenizer.batch_decode(slow, skip_special_tokens=True)
    assert texts[6] == "" and texts[7] == ""  # empty and blank lines produce nothing


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"num_beams": 2}, id="beams"),
        pytest.param({"output_scores": True, "return_dict_in_generate": True}, id="scores"),
        pytest.param({"max_length": 5}, id="max-length"),
        pytest.param({"repetition_penalty": 1.2}, id="other-setting"),
    ],
)
def test_other_settings_use_transformers_loop(model_and_tokenizer, monkeypatch, kwargs):
    model, tokenizer = model_and_tokenizer
    calls = []
    monkeypatch.setattr(type(model), "_decode_fast", lambda self, *args: calls.append(args))
    model.generate(**tokenizer(["Good morning."], return_tensors="pt"), **kwargs)
    assert calls == []
