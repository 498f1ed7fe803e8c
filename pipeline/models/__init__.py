"""Find and load a translation model: a built-in name, a local folder or a Hugging Face hub id.

:func:`open_model` reads what is cheap (config and tokenizer) and finds the
model's family, which is enough to check a language pair;
:meth:`ModelInfo.load` then loads the weights.
torch and transformers are imported only when a model is opened.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, ModelError, PipelineError
from pipeline.models.base import Family
from pipeline.models.custom_code import (
    TRUST_REMOTE_CODE,
    check_no_custom_code,
    custom_code_error,
    is_custom_code_refusal,
)
from pipeline.models.manifest import MANIFEST, verify_folder
from pipeline.models.registry import builtin_names, detect_family, get_family, resolve_builtin

__all__ = [
    "DTYPES",
    "QUANTIZE",
    "LoadedModel",
    "ModelInfo",
    "check_quantize",
    "open_model",
    "resolve_device",
    "resolve_dtype",
]

logger = logging.getLogger(__name__)

DTYPES = ("float32", "float16", "bfloat16")
# int8: torch's dynamic quantization of every linear layer (one 7-bit scale per input tensor, so a
# segment's output depends on its batch); int8-rows: int8 with a scale per row of activations
# (pipeline.models.bergamot.int8: batch-independent, and for the Bergamot models their exact int8 weights).
QUANTIZE = ("int8", "int8-rows")

# How long to wait for the hub before taking it as out of reach (seconds).
_HUB_PROBE_TIMEOUT = 3.0
# "Helsinki-NLP/opus-mt-en-de", or a legacy one-part id such as "t5-small".
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass
class ModelInfo:
    """A model's config, tokenizer and family, without its weights.

    Attributes:
        name: the name the user gave (built-in name, folder or hub id).
        path: the local folder the files come from.
        config: the transformers config.
        tokenizer: the transformers tokenizer.
        family: the model family (:mod:`pipeline.models.registry`).
        source: what transformers loads from: the folder, or the hub id (whose
            other files may still have to come from the hub or its cache).
    """

    name: str
    path: str
    config: Any
    tokenizer: Any
    family: Family
    source: str

    def load(
        self, *, device: str = "cpu", dtype: str = "float32", threads: int | None = None, quantize: str | None = None
    ) -> LoadedModel:
        """Load the weights, in eval mode on ``device``.

        Args:
            device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
            dtype: one of :data:`DTYPES`.
            threads: torch's intra-op threads (``None``: torch's default).
            quantize: ``int8``: torch's dynamic int8 quantization of the linear layers; ``int8-rows``: int8
                with a scale per row of activations (:mod:`pipeline.models.bergamot.int8`). CPU, float32 only.

        Raises:
            ConfigError: a bad ``device``, ``dtype``, ``threads`` or ``quantize``, or CUDA asked for and not available.
            ModelError: the weights cannot be read.
        """
        import torch
        from transformers import AutoModelForSeq2SeqLM

        from pipeline.models.bergamot import register_auto

        register_auto()  # the model classes (open_model registered only the config and the tokenizer)
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype)
        check_quantize(quantize, torch_device, dtype)
        if threads is not None:
            if not isinstance(threads, int) or threads < 1:
                raise ConfigError(f"threads must be a whole number of at least 1, got {threads!r}")
            torch.set_num_threads(threads)
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(
                self.source, dtype=torch_dtype, trust_remote_code=TRUST_REMOTE_CODE
            )
        except Exception as err:  # transformers raises OSError, ValueError, safetensors or torch errors
            if is_custom_code_refusal(err):
                raise custom_code_error(self.name, self.path, "auto_map in config.json") from err
            weights = _weight_files(self.path)
            where = ", ".join(weights) if weights else f"{self.path} (no weight file found)"
            raise ModelError(
                f"cannot load the weights of model {self.name!r} from {where}: {_one_line(err)}",
                hint="the file may be incomplete or corrupted: download or convert the model again",
            ) from err
        model.to(torch_device)
        model.eval()
        if quantize == "int8":
            # torch 2.13 marks torch.ao.quantization deprecated (in favour of torchao, not a
            # dependency here); the API still works and is tested, so the notice is noise.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
                warnings.filterwarnings("ignore", message=r".*torch\.quantize_per_tensor")
                warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif quantize == "int8-rows":
            from pipeline.models.bergamot.int8 import quantize_rows

            quantize_rows(model)
        return LoadedModel(self.name, self.path, model, self.tokenizer, self.config, self.family)


@dataclass
class LoadedModel:
    """A model ready to translate.

    Attributes:
        name: the name the user gave.
        path: the local folder the files come from.
        model: the transformers seq2seq model, in eval mode.
        tokenizer: its tokenizer.
        config: its config.
        family: its family.
    """

    name: str
    path: str
    model: Any
    tokenizer: Any
    config: Any
    family: Family


def open_model(name_or_path: str, *, family: str | None = None) -> ModelInfo:
    """Find a model and read its config and tokenizer, not its weights.

    Resolution order: a built-in name, then a local folder, then a Hugging Face
    hub id, looked up the way ``huggingface_hub`` does (``HF_HOME``,
    ``HF_HUB_OFFLINE``).

    Args:
        name_or_path: a built-in name, a local folder, or a hub id.
        family: the family's name, to skip detection.

    Raises:
        ModelError: an unknown family; the model cannot be found or read; no family recognises it.
    """
    chosen = get_family(family) if family else None
    builtin = resolve_builtin(name_or_path)
    if builtin is not None:
        path = source = _check_folder(Path(builtin))
    elif Path(name_or_path).expanduser().is_dir():
        path = source = _check_folder(Path(name_or_path).expanduser())
    elif _HUB_ID.match(name_or_path):
        path, source = _hub_folder(name_or_path)
    else:
        raise ModelError(
            f"model {name_or_path!r} is not a built-in name, and no such folder exists",
            hint=f"built-in models: {', '.join(builtin_names()) or 'none'}; or a folder, or a hub id such as "
                 "Helsinki-NLP/opus-mt-en-de",
        )
    # Before transformers reads anything: a folder with code of its own is refused outright.
    check_no_custom_code(Path(path), name_or_path)
    read_config, read_tokenizer = _readers(Path(path), str(source))

    try:
        config = read_config(source, trust_remote_code=TRUST_REMOTE_CODE)
    except Exception as err:
        if is_custom_code_refusal(err):
            raise custom_code_error(name_or_path, path, "auto_map in config.json") from err
        raise ModelError(f"cannot read the config of model {name_or_path!r} ({Path(path) / 'config.json'}): "
                         f"{_one_line(err)}") from err
    try:
        with warnings.catch_warnings():
            # MarianTokenizer asks for sacremoses for a normaliser that translation never calls.
            warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
            tokenizer = read_tokenizer(source, trust_remote_code=TRUST_REMOTE_CODE)
    except Exception as err:
        if is_custom_code_refusal(err):
            raise custom_code_error(name_or_path, path, "auto_map in tokenizer_config.json") from err
        raise ModelError(
            f"cannot load the tokenizer of model {name_or_path!r} from {path}: {_one_line(err)}",
            hint="the folder needs the tokenizer's files (tokenizer.json, or the SentencePiece model and vocabulary)",
        ) from err
    found = chosen or detect_family(config, tokenizer)
    logger.debug("model %s: %s family, from %s", name_or_path, found.name, path)
    return ModelInfo(name_or_path, str(path), config, tokenizer, found, str(source))


def _readers(folder: Path, source: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    # What reads the config and the tokenizer: for a Bergamot folder (the built-in models) their
    # own classes, which skips importing transformers.models, the Auto classes' index of every
    # architecture (~0.3 s of a one-line translation); for any other model, the Auto classes.
    try:
        model_type = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        model_type = None  # the Auto classes say what is wrong with it
    if model_type == "bergamot":
        from pipeline.models.bergamot.configuration import BergamotConfig
        from pipeline.models.bergamot.tokenization import BergamotTokenizer

        # name_or_path: as AutoConfig sets it (messages name the model by it).
        return partial(BergamotConfig.from_pretrained, name_or_path=source), BergamotTokenizer.from_pretrained
    from transformers import AutoConfig, AutoTokenizer

    from pipeline.models.bergamot import register_auto

    # ``import pipeline`` registers the bergamot architecture when transformers is imported,
    # but that hook cannot when the first import of transformers is a Bergamot module's own
    # (a circular import): registering here (idempotent) makes loading independent of import order.
    # The model classes wait for load(): their module imports transformers' PreTrainedModel (~2 s).
    register_auto(models=False)
    return AutoConfig.from_pretrained, AutoTokenizer.from_pretrained


def resolve_device(device: str) -> str:
    """The torch device for ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when available).

    Raises:
        ConfigError: an unknown device, or CUDA asked for and not available.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", device or "")
    if not match:
        raise ConfigError(f"unknown device {device!r} (valid: cpu, cuda, cuda:N, auto)")
    if not torch.cuda.is_available():
        why = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available ({why})",
                          hint="use --device cpu, or auto to take a GPU only when there is one")
    if match.group(1) and int(match.group(1)) >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
    return device


def resolve_dtype(dtype: str) -> Any:
    """The torch dtype for one of :data:`DTYPES`.

    Raises:
        ConfigError: an unknown dtype.
    """
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r} (valid: {', '.join(DTYPES)})")
    return getattr(torch, dtype)


def check_quantize(quantize: str | None, device: str, dtype: str) -> None:
    """Check a ``quantize`` option against the resolved device and the dtype.

    Raises:
        ConfigError: an unknown value, or int8 asked for on a GPU or with a dtype other than float32.
    """
    if quantize is None:
        return
    if quantize not in QUANTIZE:
        raise ConfigError(f"unknown quantize {quantize!r} (valid: {', '.join(QUANTIZE)}, or none)")
    # torch's dynamic quantization has CPU kernels only, and quantizes float32 weights.
    if device != "cpu" or dtype != "float32":
        raise ConfigError(f"quantize {quantize!r} needs device cpu and dtype float32, not {device} and {dtype}",
                          hint="drop quantize, or use --device cpu --dtype float32")


def _check_folder(folder: Path) -> Path:
    try:
        files = {entry.name for entry in folder.iterdir()}
    except OSError as err:
        raise ModelError(f"cannot read model folder {folder}: {err.strerror or err}") from err
    if "config.json" not in files:
        raise ModelError(
            f"model folder {folder} has no config.json, so it is not a Hugging Face model folder",
            hint="save the model with save_pretrained(), or download it with `hf download <id> --local-dir <folder>`",
        )
    if MANIFEST in files:  # a folder mtpipe converted (a built-in model, or a copy of one): check its files
        verify_folder(folder, hint=f"delete {folder} and convert it again: "
                                   f"mtpipe models import bergamot --dest {folder.parent}")
    return folder


def _hub_folder(repo_id: str) -> tuple[Path, str]:
    # Resolve the id to its snapshot folder through huggingface_hub, which honours
    # HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE, so that a miss gets a clear error
    # here rather than a traceback from deep inside the hub client. Returns the folder
    # and what transformers should load from: the id, or the folder when the hub is
    # out of reach (so that no later call waits for it either).
    from huggingface_hub import constants, errors, hf_hub_download, try_to_load_from_cache

    if not constants.is_offline_mode():
        unreachable = _hub_unreachable(repo_id)
        if unreachable:
            # hf_hub_download would retry for ~25 s (5 retries, 1-8 s apart) before giving up.
            cached = try_to_load_from_cache(repo_id, "config.json")
            if isinstance(cached, str):
                logger.info("the Hugging Face hub cannot be reached (%s): %s from the local cache",
                            unreachable, repo_id)
                return Path(cached).parent, str(Path(cached).parent)
            raise ModelError(
                f"model {repo_id!r} is not a local folder, is not in the local Hugging Face cache "
                f"({constants.HF_HUB_CACHE}) and the hub cannot be reached ({unreachable})",
                hint="pass a local model folder, or download the model on a connected machine (`hf download "
                     f"{repo_id}`) and copy its HF_HOME here; set HF_HUB_OFFLINE=1 to skip the hub, or "
                     "HF_HUB_ETAG_TIMEOUT=30 on a slow connection",
            )
    try:
        return Path(hf_hub_download(repo_id, "config.json")).parent, repo_id
    except errors.GatedRepoError as err:
        raise ModelError(f"model {repo_id!r} is gated on the Hugging Face hub",
                         hint=f"accept its terms on https://huggingface.co/{repo_id}, then `hf auth login`") from err
    except errors.RepositoryNotFoundError as err:
        raise ModelError(
            f"model {repo_id!r} is not a built-in name, a local folder or a model on the Hugging Face hub",
            hint=f"check the spelling; built-in models: {', '.join(builtin_names()) or 'none'}",
        ) from err
    except errors.RevisionNotFoundError as err:
        raise ModelError(f"model {repo_id!r} has no such revision on the hub: {_one_line(err)}") from err
    except (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled) as err:
        offline = constants.HF_HUB_OFFLINE
        why = "the hub cannot be reached" + (" (HF_HUB_OFFLINE is set)" if offline else "")
        raise ModelError(
            f"model {repo_id!r} is not a local folder, is not in the local Hugging Face cache "
            f"(HF_HOME={constants.HF_HOME}, cache {constants.HF_HUB_CACHE}) and {why}",
            hint=(f"on a connected machine run `hf download {repo_id}` (older: `huggingface-cli download {repo_id}`) "
                  f"and copy its HF_HOME folder here, or copy the model folder and pass its path"
                  + ("; or unset HF_HUB_OFFLINE" if offline else "")),
        ) from err
    except errors.EntryNotFoundError as err:
        raise ModelError(f"hub repository {repo_id!r} has no config.json, so it is not a transformers model") from err
    except (errors.HfHubHTTPError, OSError) as err:
        raise ModelError(f"cannot download model {repo_id!r} from the Hugging Face hub: {_one_line(err)}") from err


def _hub_unreachable(repo_id: str) -> str | None:
    """Why the hub cannot be reached, from one request without retries, or ``None`` when it answers.

    The wait is short (3 s, or ``HF_HUB_ETAG_TIMEOUT`` when set), so that an offline machine
    fails at once; any HTTP answer, even an error, means the hub is there.
    """
    import os

    from huggingface_hub import constants, errors, get_hf_file_metadata, hf_hub_url

    timeout = constants.HF_HUB_ETAG_TIMEOUT if os.environ.get("HF_HUB_ETAG_TIMEOUT") else _HUB_PROBE_TIMEOUT
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, "config.json"), timeout=timeout)  # retry_on_errors=False
    except errors.HfHubHTTPError:
        return None  # it answered: hf_hub_download will say what (not found, gated...)
    except Exception as err:  # noqa: BLE001 - httpx's transport errors (DNS, refused, timeout, TLS)
        return _one_line(err)
    return None


def _weight_files(folder: str) -> list[str]:
    names = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
    return [str(Path(folder) / name) for name in names if (Path(folder) / name).exists()]


def _one_line(err: BaseException) -> str:
    if isinstance(err, PipelineError):
        return err.message
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__
