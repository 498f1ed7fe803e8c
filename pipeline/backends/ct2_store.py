"""Transformers checkpoints converted to CTranslate2, once, into the model store.

A converted model is the folder ``<store>/ctranslate2/<name>-<quantization>-<key>/``,
where ``<key>`` hashes the checkpoint's files (or its hub commit), the quantization,
the ctranslate2 version and :data:`CONVERSION_REVISION`. Conversion writes into a
hidden temporary folder beside it, records a manifest (:mod:`pipeline.models.manifest`)
and renames the folder into place, so a killed conversion leaves no half model; a
folder whose files do not match its manifest is converted again, never used.

Why not ``ctranslate2.converters.TransformersConverter``: with transformers 5 it
cannot convert two of our families. ``M2M100Loader`` looks for the language tokens
in ``special_tokens_map["additional_special_tokens"]``, which transformers 5 renamed
(``extra_special_tokens``), so an M2M100 vocabulary comes out without them and the
model is refused; ``MBartLoader`` reads ``config.normalize_before``, which
``MBartConfig`` never defined (the hub's mBART-50 ``config.json`` carries it as an
extra key). So the checkpoint is loaded by :meth:`pipeline.models.ModelInfo.load`
and handed to ctranslate2's own per-family loader classes for the weights, while the
vocabulary is written here, id by id from our tokenizer: every id then means the
same token to both backends, whatever the tokenizer class or transformers version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, ModelError
from pipeline.models import ModelInfo
from pipeline.models.manifest import verify_folder, write_manifest
from pipeline.textio import ensure_dir, output_error, publish_folder

__all__ = ["CONVERSION_REVISION", "FAMILIES", "QUANTIZATIONS", "checkpoint_key", "check_family", "converted",
           "read_meta", "store_folder"]

log = logging.getLogger(__name__)

# Bumped when a change here changes what a conversion writes: older folders are then not reused.
CONVERSION_REVISION = 1
# Our family -> ctranslate2's loader class (ctranslate2.converters.transformers), by config class.
FAMILIES: dict[str, dict[str, str]] = {
    "marian": {"MarianConfig": "MarianMTLoader"},
    "nllb": {"M2M100Config": "M2M100Loader"},
    "m2m100": {"M2M100Config": "M2M100Loader"},
    "mbart": {"MBartConfig": "MBartLoader"},
    "t5": {"T5Config": "T5Loader", "MT5Config": "MT5Loader", "UMT5Config": "UMT5Loader"},
    "madlad": {"T5Config": "T5Loader", "MT5Config": "MT5Loader"},
}
QUANTIZATIONS = ("float32", "int8", "float16", "bfloat16")
# What the converted folder says about where it came from, and the generation settings it keeps.
META = "mtpipe-ct2.json"
# Generation settings of the checkpoint that ctranslate2 can apply (see Ct2Generator).
_GENERATION_KEYS = ("max_length", "eos_token_id", "bad_words_ids", "no_repeat_ngram_size", "repetition_penalty",
                    "length_penalty", "min_length")


def check_family(info: ModelInfo) -> None:
    """Raise unless CTranslate2 can run this model's family and architecture.

    Raises:
        ConfigError: a Bergamot model (its SSRU decoder has no CTranslate2 equivalent), or a family
            or config class CTranslate2 has no loader for.
    """
    family = info.family.name
    if family == "bergamot":
        raise ConfigError(f"model {info.name!r} is a Bergamot model, which CTranslate2 cannot run (its SSRU decoder)",
                          hint='use the transformers backend (drop backend = "ctranslate2") or bergamot-native')
    config_class = type(info.config).__name__
    if family not in FAMILIES or config_class not in FAMILIES[family]:
        known = ", ".join(sorted(FAMILIES))
        raise ConfigError(f"the ctranslate2 backend cannot run model {info.name!r} ({family} family, "
                          f"{config_class}); it runs the {known} families")


def store_folder(store: Path | None = None) -> Path:
    """The folder of converted CTranslate2 models in the model store (``$MTPIPE_MODEL_STORE``)."""
    from pipeline.models.bergamot.store import default_store

    return (store or default_store()) / "ctranslate2"


def checkpoint_key(info: ModelInfo, quantization: str) -> str:
    """The store folder's name for a checkpoint converted with ``quantization``.

    A hub snapshot is named by its commit (its weights may not be downloaded yet);
    a local folder by the sha256 of its files.
    """
    import ctranslate2

    from pipeline.cache import file_sha256

    folder = Path(info.path)
    digest = hashlib.sha256()
    if folder.parent.name == "snapshots":
        digest.update(f"hub:{info.name}@{folder.name}\n".encode())
    else:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    digest.update(f"{quantization}\0{ctranslate2.__version__}\0{CONVERSION_REVISION}".encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(info.name.rstrip("/")).name or "model")[:60]
    return f"{name}-{quantization}-{digest.hexdigest()[:16]}"


def converted(info: ModelInfo, quantization: str, store: Path | None = None) -> Path:
    """The CTranslate2 folder of ``info``'s checkpoint, converting it on first use.

    Args:
        info: the opened checkpoint (a family :func:`check_family` accepts).
        quantization: one of :data:`QUANTIZATIONS`: how the weights are stored.
        store: the model store (default ``$MTPIPE_MODEL_STORE``, else the user cache folder's).

    Raises:
        ConfigError: the model's family cannot run on CTranslate2.
        ModelError: the checkpoint cannot be read or converted.
        OutputError: the store cannot be written.
    """
    check_family(info)
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantization {quantization!r} (valid: {', '.join(QUANTIZATIONS)})")
    root = store_folder(store)
    final = root / checkpoint_key(info, quantization)
    if _usable(final):
        return final
    ensure_dir(root, "model store", hint="set $MTPIPE_MODEL_STORE to a writable folder")
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=root))
    try:
        log.info("converting %s to CTranslate2 (%s) into %s", info.name, quantization, final)
        _convert(info, quantization, staging)
        write_manifest(staging)
        if not _usable(final, quiet=True):  # another process may have finished it meanwhile: keep theirs
            publish_folder(staging, final, usable=lambda folder: _usable(folder, quiet=True))
    except OSError as err:
        raise output_error(err, final, "model") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def read_meta(folder: Path) -> dict[str, Any]:
    """What :func:`converted` recorded in a folder: its vocabulary and the checkpoint's generation settings."""
    return json.loads((folder / META).read_text(encoding="utf-8"))


def _convert(info: ModelInfo, quantization: str, out: Path) -> None:
    import torch
    from ctranslate2.converters import transformers as loaders

    model = info.load().model
    config, tokenizer = model.config, info.tokenizer
    loader = getattr(loaders, FAMILIES[info.family.name][type(config).__name__])()
    try:
        with torch.no_grad():
            if info.family.name == "mbart":
                # mBART is pre-norm with a layer norm on its embeddings; MBartConfig has no such keys.
                config.normalize_before = config.normalize_embedding = True
            spec = loader.get_model_spec(model)
            loader.set_config(spec.config, model, tokenizer)
            tokens = vocabulary(tokenizer, config.vocab_size)
            for name in ("bos_token", "eos_token", "unk_token"):
                if getattr(spec.config, name, "") is None:  # transformers 5's MBart50Tokenizer has no bos_token
                    token_id = getattr(config, f"{name}_id", None)
                    setattr(spec.config, name, tokens[token_id] if token_id is not None else tokenizer.eos_token)
            if info.family.name != "marian":
                # As generate() starts (the loaders give mBART-50 none, which would start from the
                # target language token). Marian starts from a zero embedding, whatever the token.
                spec.config.decoder_start_token = tokens[config.decoder_start_token_id]
            # Marian's loader drops the trailing <pad> row, which transformers never lets it generate.
            tokens = tokens[: spec.decoder.embeddings.weight.shape[0]]
            spec.register_source_vocabulary(tokens)
            spec.register_target_vocabulary(tokens)
            spec.validate()
            spec.optimize(quantization=quantization)
    except (AttributeError, KeyError, ValueError, NotImplementedError) as err:
        raise ModelError(f"cannot convert model {info.name!r} to CTranslate2: {type(err).__name__}: {err}") from err
    spec.save(str(out))
    generation = model.generation_config
    meta = {
        "source": info.name,
        "quantization": quantization,
        "revision": CONVERSION_REVISION,
        "vocabulary": tokens,
        "decoder_start_token_id": config.decoder_start_token_id,
        "generation": {key: getattr(generation, key, None) for key in _GENERATION_KEYS},
    }
    (out / META).write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")


def vocabulary(tokenizer: Any, size: int) -> list[str]:
    """The token of every id below ``size``, as our tokenizer maps it; each one once.

    An id the tokenizer has no token of its own for (M2M100's "made-up words" decode
    as ``<unk>``, T5's extra ids as nothing) gets a placeholder, so that no token
    string stands for two ids.
    """
    tokens: list[str] = []
    seen: set[str] = set()
    for i in range(size):
        token = tokenizer.convert_ids_to_tokens(i)
        if not isinstance(token, str) or token in seen:
            token = f"<mtpipe_unused_{i}>"
        seen.add(token)
        tokens.append(token)
    return tokens


def _usable(folder: Path, quiet: bool = False) -> bool:
    # True for a complete folder whose files match its manifest; a damaged one is converted again.
    if not folder.is_dir():
        return False
    try:
        verify_folder(folder, hint="it is converted again")
        if not (folder / META).is_file() or not (folder / "model.bin").is_file():
            raise ModelError(f"{folder} lacks {META} or model.bin")
    except ModelError as err:
        if not quiet:
            log.warning("CTranslate2 model %s is damaged (%s): converting it again", folder.name, err.message)
        return False
    return True

