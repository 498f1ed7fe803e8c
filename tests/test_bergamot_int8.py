"""quantize = "int8-rows" (pipeline.models.bergamot.int8): which layers, exact weights, batch independence, quality."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.models import QUANTIZE, bergamot, check_quantize
from pipeline.models.bergamot.int8 import RowInt8Linear, quantize_rows, row_int8_output, weight_scale
from pipeline.models.bergamot.layers import Attention, FeedForward
from pipeline.models.bergamot.runner import BergamotGreedyModel, load_greedy
from pipeline.translate import Translator

FLORES_EN = Path(__file__).resolve().parents[1] / "corpora" / "flores200-devtest" / "eng_Latn.devtest"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bergamot.ensure_model("en-pt", tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def quantized(folder: Path) -> BergamotGreedyModel:
    from transformers import AutoConfig

    bergamot.register_auto()
    model = load_greedy(folder, AutoConfig.from_pretrained(folder), beam=1, device="cpu", dtype="float32",
                        quantize="int8-rows")
    assert isinstance(model, BergamotGreedyModel)
    return model


def _marian_integers(shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    # Bell-shaped, as a trained matrix's: most |q| small, a few reaching 127.
    values = torch.clamp(torch.round(torch.randn(shape, generator=generator) * 20), -127, 127)
    values[0, 0] = 127
    return values


def _marian_like_linear(rows: int, cols: int, seed: int) -> nn.Linear:
    # Weights as the Bergamot models hold them: int8 values times one step.
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(cols, rows)
    with torch.no_grad():
        linear.weight.copy_(_marian_integers((rows, cols), generator) * 0.0043)
        linear.bias.copy_(torch.randn(rows, generator=generator))
    return linear


def _assert_marian_integers(weight: torch.Tensor, scale: float, name: str) -> None:
    # Marian's int8 matrices: weight / scale are its integers (|q| <= 127) up to float32 rounding, so
    # int8 with this scale holds the very weights the model was trained and shipped with.
    steps = weight / scale
    assert float((steps - steps.round()).abs().max()) < 1e-3, name
    assert float(steps.abs().max()) <= 127.0 + 1e-3, name
    assert float((steps.round() * scale - weight).abs().max()) <= 1e-6 * float(weight.abs().max()), name


def test_the_mode_is_valid_on_the_cpu_in_float32_only() -> None:
    assert "int8-rows" in QUANTIZE
    check_quantize("int8-rows", "cpu", "float32")
    with pytest.raises(ConfigError, match="needs device cpu and dtype float32"):
        check_quantize("int8-rows", "cpu", "bfloat16")
    with pytest.raises(ConfigError, match="needs device cpu and dtype float32"):
        check_quantize("int8-rows", "cuda", "float32")
    with pytest.raises(ConfigError, match=r"valid: int8, int8-rows, or none"):
        check_quantize("int8-row", "cpu", "float32")


def test_every_linear_layer_is_int8_with_its_exact_weights(folder: Path, quantized: BergamotGreedyModel) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    plain = load_greedy(folder, config, beam=1, device="cpu", dtype="float32", quantize=None)
    linears = {name: module for name, module in plain.named_modules() if isinstance(module, nn.Linear)}
    int8 = {name: module for name, module in quantized.named_modules() if isinstance(module, RowInt8Linear)}
    assert not any(isinstance(module, nn.Linear) for module in quantized.modules())
    fused = {name: module for name, module in int8.items() if module.scale is None}
    assert int8.keys() - fused.keys() == linears.keys()
    assert len(linears) == 6 * config.encoder_layers + 8 * config.decoder_layers
    for name, module in int8.items():
        if name in fused:
            continue
        weight = linears[name].weight.detach()
        _assert_marian_integers(weight, module.scale, name)
        assert module.nonnegative == name.endswith("ffn.fc2"), name
    # One product for the layers that read the same input, each part with its own layer's step.
    parts = {f"model.encoder.layers.{i}.self_attn.qkv": ("q_proj", "k_proj", "v_proj")
             for i in range(config.encoder_layers)}
    parts |= {f"model.decoder.layers.{i}.ssru.fused": ("forget_proj", "input_proj")
              for i in range(config.decoder_layers)}
    assert fused.keys() == parts.keys()
    for name, module in fused.items():
        parent = name.rsplit(".", 1)[0]
        members = [linears[f"{parent}.{part}"] for part in parts[name]]
        assert module.scales == tuple(weight_scale(member.weight) for member in members), name
        assert module.out_features == sum(member.out_features for member in members)
    # The output layer (shortlisted rows of the embedding) too, with the embedding's exact step.
    embedding = plain.model.encoder.embed_tokens.weight.detach()
    assert quantized.int8_output == weight_scale(embedding)
    _assert_marian_integers(embedding, quantized.int8_output, "embedding")
    # The embeddings, layer norms and output bias stay float32 and unchanged.
    assert torch.equal(quantized.model.encoder.embed_tokens.weight, plain.model.encoder.embed_tokens.weight)
    assert torch.equal(quantized.logits_bias, plain.logits_bias)
    attention = {name: module for name, module in quantized.named_modules() if isinstance(module, Attention)}
    assert all(module.per_sentence and not module.wide for name, module in attention.items() if "encoder." in name)
    assert all(module.wide and not module.per_sentence for name, module in attention.items() if "decoder." in name)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["signed", "after-relu"])
@pytest.mark.parametrize(("rows", "cols"), [(256, 256), (1536, 256), (256, 1536)])
def test_a_row_gets_the_same_result_alone_as_in_any_batch(rows: int, cols: int, nonnegative: bool) -> None:
    linear = _marian_like_linear(rows, cols, seed=rows + cols)
    module = RowInt8Linear(linear, nonnegative=nonnegative)
    generator = torch.Generator().manual_seed(1)
    # Rows of very different magnitudes: a per-tensor scale would round the small ones coarsely.
    x = torch.randn(300, cols, generator=generator) * torch.logspace(-2, 2, 300)[:, None]
    if nonnegative:
        x = torch.relu(x)
    together = module(x)
    for start, size in [(0, 1), (5, 2), (17, 9), (100, 64), (250, 50)]:
        assert torch.equal(module(x[start : start + size]), together[start : start + size])
    assert torch.equal(module(x.view(3, 100, cols)), together.view(3, 100, rows))
    with torch.no_grad():
        expected = linear(x)
    # 8 bits per row: within a few percent of each row's float32 result.
    error = (together - expected).norm(dim=1) / expected.norm(dim=1)
    assert float(error.max()) < 0.03


def test_a_fused_product_is_its_layers_side_by_side_and_row_independent() -> None:
    linears = [_marian_like_linear(256, 256, seed=seed) for seed in (4, 5, 6)]
    with torch.no_grad():
        linears[1].weight.mul_(2.5)  # another step than its neighbours'
    fused = RowInt8Linear.fused(linears)
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(120, 256, generator=generator) * torch.logspace(-1, 1, 120)[:, None]
    together = fused(x)
    for start, size in [(0, 1), (7, 3), (60, 60)]:
        assert torch.equal(fused(x[start : start + size]), together[start : start + size])
    separate = torch.cat([RowInt8Linear(linear)(x) for linear in linears], dim=-1)
    torch.testing.assert_close(together, separate, rtol=1e-5, atol=1e-5)


def test_the_int8_output_layer_gives_a_row_the_same_scores_in_any_batch_and_shortlist() -> None:
    generator = torch.Generator().manual_seed(2)
    embedding = _marian_integers((4000, 256), generator) * 0.0065
    scale = weight_scale(embedding)
    assert scale == pytest.approx(0.0065)
    hidden = torch.randn(40, 256, generator=generator)
    wide = torch.arange(0, 4000, 2)
    narrow = wide[::7].contiguous()
    bias = torch.randn(4000, generator=generator)
    all_scores = row_int8_output(embedding[wide], scale)(hidden, bias[wide].expand(40, -1).contiguous())
    position = torch.searchsorted(wide, narrow)
    for rows in (slice(0, 1), slice(3, 20)):
        scores = row_int8_output(embedding[narrow], scale)(hidden[rows], bias[narrow].expand(rows.stop - rows.start,
                                                                                             -1).contiguous())
        assert torch.equal(scores, all_scores[rows][:, position])
    expected = torch.addmm(bias[wide], hidden, embedding[wide].t())
    assert float(((all_scores - expected).norm(dim=1) / expected.norm(dim=1)).max()) < 0.03


def test_per_sentence_attention_is_the_attention_of_a_batch_of_one() -> None:
    from pipeline.models.bergamot.configuration import BergamotConfig

    torch.manual_seed(3)
    attention = Attention(BergamotConfig()).eval()
    # As in the model: int8 projections (row-independent; float32 ones are not at 1-3 rows).
    quantize_rows(attention)
    lengths = [7, 13, 2, 13]
    hidden = torch.randn(len(lengths), 13, 256)
    mask = (torch.arange(13) < torch.tensor(lengths)[:, None]).float()
    bias = (1.0 - mask[:, None, None, :]) * -99999999.0
    with torch.no_grad():
        attention.wide = False
        padded, _ = attention(hidden, *attention.project_kv(hidden), bias)
        attention.per_sentence = True
        together, weights = attention(hidden, *attention.project_kv(hidden), bias)
        for row, length in enumerate(lengths):
            alone_hidden = hidden[row : row + 1, :length]
            alone, alone_weights = attention(alone_hidden, *attention.project_kv(alone_hidden),
                                             torch.zeros(1, 1, 1, length))
            assert torch.equal(together[row, :length], alone[0])
            assert torch.equal(weights[row, :, :length, :length], alone_weights[0])
            torch.testing.assert_close(together[row, :length], padded[row, :length])


def test_feed_forward_inputs_to_fc2_are_never_negative() -> None:
    # What marking fc2 non-negative relies on: its input is a ReLU's output.
    from pipeline.models.bergamot.configuration import BergamotConfig

    block = FeedForward(BergamotConfig())
    seen = []
    block.fc2.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    block(torch.randn(5, 256))
    assert float(seen[0].min()) >= 0


def test_quantize_rows_leaves_no_linear_layer_and_names_them() -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    names = quantize_rows(model)
    assert names == ["0", "2"]
    assert [type(module).__name__ for module in model] == ["RowInt8Linear", "ReLU", "RowInt8Linear"]
    assert not hasattr(model, "int8_output")  # not a Bergamot model: no shortlisted output layer


def test_a_sentence_translates_alone_as_in_its_batch_and_close_to_float32(folder: Path) -> None:
    lines = FLORES_EN.read_text(encoding="utf-8").splitlines()[:48]
    translator = Translator(str(folder), quantize="int8-rows", workers=1)
    together = translator.translate(lines, "en", "pt-BR")
    assert isinstance(translator.generator.runner, BergamotGreedyModel)
    assert together == [translator.translate([line], "en", "pt-BR")[0] for line in lines]
    assert together == translator.translate(lines[::-1], "en", "pt-BR")[::-1]
    float32 = Translator(str(folder), workers=1).translate(lines, "en", "pt-BR")
    same = sum(a == b for a, b in zip(together, float32, strict=True))
    assert same >= 0.7 * len(lines), same  # 840 of FLORES' 1012 lines (docs/speed.md)
    assert all(together)


def test_the_transformers_model_gets_the_same_layers(folder: Path) -> None:
    translator = Translator(str(folder), quantize="int8-rows", beam=2, workers=1)
    model = translator.loaded.model
    assert not any(isinstance(module, nn.Linear) for module in model.model.modules())
    assert sum(isinstance(module, RowInt8Linear) for module in model.modules()) > 0
    assert math.isfinite(model.int8_output)
    assert translator.translate(["Hello world."], "en", "pt-BR")[0]
