"""Model loading and the model families, on tiny real models of every family."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pipeline.errors import ConfigError, LanguageError, ModelError
from pipeline.languages import parse_language
from pipeline.models import open_model
from pipeline.models.registry import families, get_family

REPO = Path(__file__).resolve().parent.parent

# kind of tiny model -> the family that must recognise it
FAMILY_OF = {
    "marian": "marian",
    "marian-multi": "marian",
    "nllb": "nllb",
    "m2m100": "m2m100",
    "mbart": "mbart",
    "t5": "t5",
    "madlad": "madlad",
}


@pytest.fixture(scope="module")
def opened(tiny_model: Callable[[str], Path]) -> Callable[[str], object]:
    cache: dict[str, object] = {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = open_model(str(tiny_model(kind)))
        return cache[kind]

    return get


# ------------------------------------------------------------------ families


@pytest.mark.parametrize("kind", [pytest.param(kind, id=kind) for kind in FAMILY_OF])
def test_exactly_one_family_recognises_each_model(kind: str, opened) -> None:
    info = opened(kind)
    matching = [name for name, cls in families().items() if cls().matches(info.config, info.tokenizer)]
    assert matching == [FAMILY_OF[kind]]
    assert info.family.name == FAMILY_OF[kind]


@pytest.mark.parametrize(
    ("kind", "tgt", "code"),
    [
        # Marian, multi-target: >>xxx<< tokens, region first, then language (+ script)
        pytest.param("marian-multi", "pt-BR", "pt_br", id="marian-pt-BR"),
        pytest.param("marian-multi", "pt", "por", id="marian-pt"),
        pytest.param("marian-multi", "pt-PT", "por", id="marian-pt-PT"),
        pytest.param("marian-multi", "por_Latn", "por", id="marian-por_Latn"),
        pytest.param("marian-multi", "zh-Hans", "zho_Hans", id="marian-zh-Hans"),
        pytest.param("marian-multi", "zh", "zho_Hans", id="marian-zh"),
        pytest.param("marian-multi", "zh-TW", "zho_Hant", id="marian-zh-TW"),
        pytest.param("marian-multi", "sr-Latn", "srp_Latn", id="marian-sr-Latn"),
        pytest.param("marian-multi", "de-AT", "deu", id="marian-de-AT"),
        # NLLB: por_Latn
        pytest.param("nllb", "pt-BR", "por_Latn", id="nllb-pt-BR"),
        pytest.param("nllb", "pt", "por_Latn", id="nllb-pt"),
        pytest.param("nllb", "zh-Hans", "zho_Hans", id="nllb-zh-Hans"),
        pytest.param("nllb", "zh-Hant", "zho_Hant", id="nllb-zh-Hant"),
        pytest.param("nllb", "ar", "arb_Arab", id="nllb-ar"),
        pytest.param("nllb", "ms", "zsm_Latn", id="nllb-ms"),
        pytest.param("nllb", "tl", "tgl_Latn", id="nllb-tl"),
        pytest.param("nllb", "no", "nob_Latn", id="nllb-no"),
        pytest.param("nllb", "deu", "deu_Latn", id="nllb-deu"),
        # M2M100: pt
        pytest.param("m2m100", "pt-BR", "pt", id="m2m100-pt-BR"),
        pytest.param("m2m100", "zh-Hans", "zh", id="m2m100-zh-Hans"),
        pytest.param("m2m100", "arb", "ar", id="m2m100-arb"),
        pytest.param("m2m100", "nb", "no", id="m2m100-nb"),
        pytest.param("m2m100", "fil", "tl", id="m2m100-fil"),
        pytest.param("m2m100", "por_Latn", "pt", id="m2m100-por_Latn"),
        # mBART-50: pt_XX
        pytest.param("mbart", "pt-BR", "pt_XX", id="mbart-pt-BR"),
        pytest.param("mbart", "zh-Hans", "zh_CN", id="mbart-zh-Hans"),
        pytest.param("mbart", "zh", "zh_CN", id="mbart-zh"),
        pytest.param("mbart", "en-GB", "en_XX", id="mbart-en-GB"),
        pytest.param("mbart", "fa", "fa_IR", id="mbart-fa"),
        # MADLAD: <2pt>
        pytest.param("madlad", "pt-BR", "pt", id="madlad-pt-BR"),
        pytest.param("madlad", "zh-Hans", "zh", id="madlad-zh-Hans"),
        pytest.param("madlad", "zh-Latn", "zh_Latn", id="madlad-zh-Latn"),
        pytest.param("madlad", "sr-Latn", "sr_Latn", id="madlad-sr-Latn"),
        pytest.param("madlad", "sr", "sr", id="madlad-sr"),
    ],
)
def test_target_codes(kind: str, tgt: str, code: str, opened) -> None:
    info = opened(kind)
    direction = info.family.direction(info.config, info.tokenizer, parse_language("en"), parse_language(tgt))
    assert direction.tgt_code == code


@pytest.mark.parametrize(
    ("kind", "src", "code", "attrs"),
    [
        pytest.param("nllb", "en-US", "eng_Latn", {"src_lang": "eng_Latn"}, id="nllb"),
        pytest.param("m2m100", "en-US", "en", {"src_lang": "en"}, id="m2m100"),
        pytest.param("mbart", "en-US", "en_XX", {"src_lang": "en_XX"}, id="mbart"),
        pytest.param("marian-multi", "eng", "eng", {}, id="marian-declared-source"),
        pytest.param("madlad", "en-US", "en", {}, id="madlad"),
    ],
)
def test_source_codes(kind: str, src: str, code: str, attrs: dict[str, str], opened) -> None:
    info = opened(kind)
    direction = info.family.direction(info.config, info.tokenizer, parse_language(src), parse_language("pt"))
    assert (direction.src_code, direction.tokenizer_attrs) == (code, attrs)


@pytest.mark.parametrize(
    ("kind", "src_token", "tgt_token"),
    [
        pytest.param("nllb", "eng_Latn", "por_Latn", id="nllb"),
        pytest.param("m2m100", "__en__", "__pt__", id="m2m100"),
        pytest.param("mbart", "en_XX", "pt_XX", id="mbart"),
    ],
)
def test_language_tokens_really_steer_the_model(kind: str, src_token: str, tgt_token: str, opened) -> None:
    info = opened(kind)
    tokenizer = info.tokenizer
    direction = info.family.direction(info.config, tokenizer, parse_language("en"), parse_language("pt-BR"))
    assert direction.generate_kwargs == {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(tgt_token)}
    for attr, value in direction.tokenizer_attrs.items():
        setattr(tokenizer, attr, value)
    ids = tokenizer("Hello world.")["input_ids"]
    # The source language token comes first and </s> last (transformers 5: NLLB's non-legacy layout).
    assert ids[0] == tokenizer.convert_tokens_to_ids(src_token)
    assert ids[-1] == tokenizer.eos_token_id
    model = open_model(info.path).load().model
    with torch.inference_mode():
        output = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=4, **direction.generate_kwargs)
    # [decoder start, target language, ...]
    assert output[0, 1].item() == tokenizer.convert_tokens_to_ids(tgt_token)


@pytest.mark.parametrize(
    ("kind", "tgt", "prefix", "first_token"),
    [
        pytest.param("marian-multi", "pt-BR", ">>pt_br<< ", ">>pt_br<<", id="marian"),
        pytest.param("madlad", "pt-BR", "<2pt> ", "<2pt>", id="madlad"),
        pytest.param("t5", "de", "translate English to German: ", None, id="t5"),
    ],
)
def test_prefixes(kind: str, tgt: str, prefix: str, first_token: str | None, opened) -> None:
    info = opened(kind)
    direction = info.family.direction(info.config, info.tokenizer, parse_language("en"), parse_language(tgt))
    assert (direction.prefix, direction.generate_kwargs) == (prefix, {})
    if first_token:
        # The prefix is one vocabulary token, not pieces of the text ">>pt_br<<".
        ids = info.tokenizer(prefix + "Hello world.")["input_ids"]
        token = info.tokenizer.convert_tokens_to_ids(first_token)
        assert token != info.tokenizer.unk_token_id and token in ids
        # SentencePiece 0.2.3 may put its dummy-prefix piece "▁" before a user-defined symbol.
        assert info.tokenizer.convert_ids_to_tokens(ids[: ids.index(token)]) in ([], ["▁"])


def test_t5_without_task_list_asks_in_words(opened) -> None:
    info = opened("t5")
    family = get_family("t5")
    assert family.supported_languages(info.config, info.tokenizer) == ["en", "de", "fr", "ro"]
    config = copy.deepcopy(info.config)
    config.task_specific_params = None  # a fine-tuned T5 that lists no tasks
    direction = family.direction(config, info.tokenizer, parse_language("en"), parse_language("pt-BR"))
    assert (direction.src_code, direction.tgt_code) == ("en", "pt-BR")
    assert direction.prefix == "translate English to Portuguese: "
    assert family.supported_languages(config, info.tokenizer) == []


def test_marian_single_pair(opened) -> None:
    info = opened("marian")
    family = info.family
    assert family.supported_languages(info.config, info.tokenizer) == ["en", "de"]
    direction = family.direction(info.config, info.tokenizer, parse_language("en-US"), parse_language("de"))
    assert (direction.src_code, direction.tgt_code, direction.prefix) == ("en", "de", "")
    with pytest.raises(LanguageError, match=r"marian model .* cannot translate into 'fr' \(French\); supported: de$"):
        family.direction(info.config, info.tokenizer, parse_language("en"), parse_language("fr"))
    with pytest.raises(LanguageError, match=r"cannot translate from 'pt' \(Portuguese\); supported: en$"):
        family.direction(info.config, info.tokenizer, parse_language("pt"), parse_language("de"))


@pytest.mark.parametrize(
    ("kind", "src", "tgt", "message"),
    [
        pytest.param("nllb", "en", "tlh", r"nllb model '.*' cannot translate into 'tlh' \(Klingon\); "
                     r"supported: ace_Arab, ace_Latn, .* \(202 in all\)$", id="nllb-long-list"),
        pytest.param("m2m100", "en", "sr-Latn", r"m2m100 model .* cannot translate into 'sr-Latn' "
                     r"\(Serbian \(Latin\)\); supported: af, am, ar, .* \(100 in all\)$", id="m2m100-other-script"),
        pytest.param("mbart", "en", "zh-Hant", r"into 'zh-Hant' .* supported: af_ZA, ar_AR, .* \(52 in all\)$",
                     id="mbart-no-hant"),
        pytest.param("marian-multi", "en", "fr", r"into 'fr' \(French\); supported: deu, por, pt_br, srp_Cyrl, "
                     r"srp_Latn, zho_Hans, zho_Hant$", id="marian-multi"),
        pytest.param("madlad", "en", "ja", r"madlad model .* into 'ja' \(Japanese\); supported: de, en, pt, sr, "
                     r"sr_Latn, zh, zh_Latn$", id="madlad"),
        pytest.param("nllb", "tlh", "pt", r"nllb model .* cannot translate from 'tlh'", id="nllb-source"),
        pytest.param("t5", "en", "pt", r"t5 model .* cannot translate from 'en' into 'pt'; "
                     r"supported pairs: en->de, en->fr, en->ro$", id="t5-pairs"),
    ],
)
def test_unsupported_language_lists_the_supported_codes(kind: str, src: str, tgt: str, message: str, opened) -> None:
    info = opened(kind)
    with pytest.raises(LanguageError, match=message):
        info.family.direction(info.config, info.tokenizer, parse_language(src), parse_language(tgt))


# ------------------------------------------------------------------ loading


@pytest.mark.parametrize("kind", [pytest.param(kind, id=kind) for kind in ("marian", "nllb", "t5")])
def test_open_and_load(kind: str, tiny_model) -> None:
    loaded = open_model(str(tiny_model(kind))).load()
    assert loaded.name == loaded.path == str(tiny_model(kind))
    assert loaded.family.name == FAMILY_OF[kind]
    assert not loaded.model.training
    expected = {"marian": "MarianMTModel", "nllb": "M2M100ForConditionalGeneration", "t5": "T5ForConditionalGeneration"}
    assert type(loaded.model).__name__ == expected[kind]
    assert loaded.config.model_type == loaded.model.config.model_type


def test_load_dtype_and_threads(tiny_model) -> None:
    before = torch.get_num_threads()
    try:
        loaded = open_model(str(tiny_model("marian"))).load(dtype="bfloat16", threads=1)
        assert next(loaded.model.parameters()).dtype == torch.bfloat16
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_explicit_family_skips_detection(tiny_model) -> None:
    assert open_model(str(tiny_model("nllb")), family="nllb").family.name == "nllb"


def test_unknown_family(tiny_model) -> None:
    with pytest.raises(ModelError, match=r"unknown model family 'mariann' \(known: .*marian.*\)"):
        open_model(str(tiny_model("marian")), family="mariann")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"device": "tpu"}, ConfigError, r"unknown device 'tpu' \(valid: cpu, cuda, cuda:N, auto\)",
                     id="device"),
        pytest.param({"dtype": "float8"}, ConfigError, r"unknown dtype 'float8' \(valid: float32, float16, bfloat16\)",
                     id="dtype"),
        pytest.param({"threads": 0}, ConfigError, r"threads must be a whole number of at least 1, got 0", id="threads"),
    ],
)
def test_bad_options(options: dict[str, object], error: type[Exception], message: str, tiny_model) -> None:
    with pytest.raises(error, match=message):
        open_model(str(tiny_model("marian"))).load(**options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_unavailable(device: str, tiny_model) -> None:
    with pytest.raises(ConfigError, match=rf"device '{device}' asked for, but CUDA is not available") as info:
        open_model(str(tiny_model("marian"))).load(device=device)
    assert "--device cpu" in info.value.hint


def test_auto_device_falls_back_to_cpu(tiny_model) -> None:
    loaded = open_model(str(tiny_model("marian"))).load(device="auto")
    assert loaded.model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model '.*nope' is not a built-in name, and no such folder exists"):
        open_model(str(tmp_path / "nope"))


def test_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelError, match=rf"model folder {tmp_path} has no config.json"):
        open_model(str(tmp_path))


def _copy(tiny_model, kind: str, tmp_path: Path) -> Path:
    folder = tmp_path / kind
    shutil.copytree(tiny_model(kind), folder)
    return folder


def test_corrupted_weights_name_the_file(tiny_model, tmp_path: Path) -> None:
    folder = _copy(tiny_model, "marian", tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    info = open_model(str(folder))  # config and tokenizer are fine
    with pytest.raises(ModelError, match=rf"cannot load the weights of model '.*' from {weights}: "):
        info.load()


def test_missing_tokenizer_files(tiny_model, tmp_path: Path) -> None:
    folder = _copy(tiny_model, "marian", tmp_path)
    (folder / "source.spm").unlink()
    with pytest.raises(ModelError, match=rf"cannot load the tokenizer of model '.*' from {folder}"):
        open_model(str(folder))


def test_broken_config(tiny_model, tmp_path: Path) -> None:
    folder = _copy(tiny_model, "marian", tmp_path)
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=rf"cannot read the config of model '.*' \({folder / 'config.json'}\)"):
        open_model(str(folder))


def test_unreadable_folder(tiny_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy(tiny_model, "marian", tmp_path)

    def denied(self: Path):
        raise PermissionError(13, "Permission denied", str(self))

    # (chmod would not stop root, which runs the CI.)
    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(ModelError, match=rf"cannot read model folder {folder}: Permission denied"):
        open_model(str(folder))


@pytest.mark.slow
def test_hub_ids_follow_hf_home_and_offline_mode(tiny_model, tmp_path: Path) -> None:
    # A fresh interpreter, because huggingface_hub reads HF_HOME and HF_HUB_OFFLINE at import.
    home = tmp_path / "hf"
    snapshot = home / "hub" / "models--tiny--cached" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model("marian"), snapshot)
    (home / "hub" / "models--tiny--cached" / "refs").mkdir()
    (home / "hub" / "models--tiny--cached" / "refs" / "main").write_text("0" * 40)
    script = textwrap.dedent("""
        import json
        from pipeline.errors import ModelError
        from pipeline.models import open_model
        loaded = open_model("tiny/cached").load()
        result = {"family": loaded.family.name, "path": loaded.path}
        try:
            open_model("Helsinki-NLP/opus-mt-en-de")
        except ModelError as err:
            result.update(message=err.message, hint=err.hint)
        print(json.dumps(result))
    """)
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_CACHE", None)
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["family"] == "marian" and result["path"] == str(snapshot)
    assert result["message"] == (
        f"model 'Helsinki-NLP/opus-mt-en-de' is not a local folder, is not in the local Hugging Face cache "
        f"(HF_HOME={home}, cache {home / 'hub'}) and the hub cannot be reached (HF_HUB_OFFLINE is set)"
    )
    assert "hf download Helsinki-NLP/opus-mt-en-de" in result["hint"] and "unset HF_HUB_OFFLINE" in result["hint"]


def test_a_bergamot_folder_is_read_by_its_own_classes_as_the_auto_classes_read_it() -> None:
    # open_model skips the Auto classes for Bergamot folders (start-up time): same config, same tokenizer.
    from transformers import AutoConfig, AutoTokenizer

    from pipeline.models.bergamot import ensure_model, register_auto

    folder = ensure_model("en-pt")
    register_auto(models=False)
    info = open_model("bergamot-en-pt")
    auto_config, auto_tokenizer = AutoConfig.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    assert type(info.config) is type(auto_config)
    assert info.config.to_dict() == auto_config.to_dict()
    assert type(info.tokenizer) is type(auto_tokenizer)
    texts = ["Hello world.", "Hello </s> world <unk>", "😀 Привет 你好", ""]
    assert info.tokenizer(texts)["input_ids"] == auto_tokenizer(texts)["input_ids"]
    assert info.tokenizer.all_special_ids == auto_tokenizer.all_special_ids
    assert info.tokenizer.model_max_length == auto_tokenizer.model_max_length
