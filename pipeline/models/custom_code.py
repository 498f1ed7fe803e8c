"""Refuse model folders that carry their own Python code: mtpipe never runs it.

transformers runs a folder's code when its config names classes in an ``auto_map``
(or a ``custom_generate/generate.py`` sits beside it) and ``trust_remote_code`` is
true; left at ``None`` it asks on stdout and runs the code when "y" arrives on
stdin. mtpipe passes ``trust_remote_code=False`` everywhere and, before that,
refuses such a folder with an error that names it, so a model cannot quietly
load as a built-in class either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError

__all__ = ["TRUST_REMOTE_CODE", "check_no_custom_code", "custom_code_error", "is_custom_code_refusal"]

TRUST_REMOTE_CODE = False  # passed to every from_pretrained; never changed

# Files in which transformers looks for ``auto_map`` (code to import) or custom pipelines.
_JSON_FILES = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")
_CODE_KEYS = ("auto_map", "custom_pipelines")
# Code transformers runs from the folder itself (``GenerationMixin.load_custom_generate``).
_CODE_FILES = ("custom_generate/generate.py",)
_HINT = ("mtpipe loads only architectures built into transformers and never runs a model's own code "
         "(trust_remote_code=False); use another model, or one converted to a built-in architecture")


def check_no_custom_code(folder: Path, name: str) -> None:
    """Raise if ``folder`` refers to code of its own.

    Only files present are read: a hub model whose other files are not downloaded
    yet is checked again by transformers itself (``trust_remote_code=False``),
    whose refusal :func:`is_custom_code_refusal` recognises.

    Args:
        folder: the local model folder (or hub snapshot folder).
        name: the model as the user named it, for the message.

    Raises:
        ModelError: naming the folder and where the code is referred to.
    """
    for file_name in _JSON_FILES:
        path = folder / file_name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # absent, or unreadable: the loader itself reports the latter
        key = _code_key(data)
        if key is not None:
            raise custom_code_error(name, folder, f"{key} in {file_name}")
    for file_name in _CODE_FILES:
        if (folder / file_name).exists():
            raise custom_code_error(name, folder, file_name)


def custom_code_error(name: str, folder: Path | str, where: str) -> ModelError:
    """The error for a model that refers to its own code at ``where``."""
    label = f"model folder {folder}" if str(folder) == str(name) else f"model {name!r} (folder {folder})"
    return ModelError(f"{label} contains custom code ({where}), which mtpipe never runs", hint=_HINT)


def is_custom_code_refusal(err: BaseException) -> bool:
    """True for transformers' refusal to load a model's code (``trust_remote_code`` is false)."""
    # transformers 5.x raises a bare ValueError (dynamic_module_utils.resolve_trust_remote_code)
    # whose text asks for trust_remote_code=True; there is no dedicated class to catch.
    return isinstance(err, ValueError) and "trust_remote_code=True" in str(err)


def _code_key(data: Any) -> str | None:
    # Nested configs (encoder-decoder, composite models) may carry their own auto_map.
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _CODE_KEYS and value:
                return key
            found = _code_key(value)
            if found is not None:
                return found
    elif isinstance(data, list):
        for value in data:
            found = _code_key(value)
            if found is not None:
                return found
    return None
