"""A model folder's own code never runs: such a folder is refused with a one-line error.

Each hostile folder is a tiny real Marian model plus code that would write a
marker file when imported. A control test proves the code really runs under
transformers when ``trust_remote_code=True``, so the refusal tests would catch
a regression (and with ``trust_remote_code`` left at ``None``, transformers 5.25
asks on stdout and runs the code when "y" arrives on stdin).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ModelError
from tests.helpers.tinymodels import build_marian

ROOT = Path(__file__).resolve().parents[1]
_MARKER_CODE = "from pathlib import Path\nPath({marker!r}).write_text('custom code ran')\n"


def _hostile(base: Path, out: Path, variant: str) -> tuple[Path, Path]:
    """A copy of ``base`` whose ``variant`` of custom code writes ``out``/../<name>.marker on import."""
    marker = out.parent / f"{out.name}.marker"
    shutil.copytree(base, out)
    code = _MARKER_CODE.format(marker=str(marker))
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    if variant == "config-auto-map":  # an architecture transformers does not know: it would prompt
        config["model_type"] = "evil-marian"
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
        code += ("from transformers import MarianConfig\n"
                 "class EvilConfig(MarianConfig):\n    model_type = 'evil-marian'\n")
    elif variant == "known-type-auto-map":  # a known model_type: transformers would quietly use its own class
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
        code += "from transformers import MarianConfig\nclass EvilConfig(MarianConfig):\n    pass\n"
    elif variant == "nested-auto-map":  # a sub-config's auto_map is code as well
        config["model_type"] = "evil-marian"
        config["auto_map"] = {}
        config["encoder_settings"] = {"auto_map": {"AutoConfig": "evil.EvilConfig"}}
    elif variant == "tokenizer-auto-map":
        tokenizer_config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
        tokenizer_config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
        (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
        code += "from transformers import MarianTokenizer\nclass EvilTokenizer(MarianTokenizer):\n    pass\n"
    elif variant == "custom-generate":
        (out / "custom_generate").mkdir()
        (out / "custom_generate" / "generate.py").write_text(
            code + "def generate(model, *args, **kwargs):\n    return model.generate(*args, **kwargs)\n",
            encoding="utf-8",
        )
    else:
        raise AssertionError(variant)
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (out / "evil.py").write_text(code, encoding="utf-8")
    return out, marker


VARIANTS = {
    # variant -> (what the error names, how transformers would run it with trust_remote_code=True)
    "config-auto-map": ("auto_map in config.json", "AutoConfig"),
    "known-type-auto-map": ("auto_map in config.json", "AutoConfig"),
    "nested-auto-map": ("auto_map in config.json", None),
    "tokenizer-auto-map": ("auto_map in tokenizer_config.json", "AutoTokenizer"),
    "custom-generate": ("custom_generate/generate.py", "AutoModelForSeq2SeqLM"),
}


@pytest.fixture(scope="module")
def tiny_en_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_marian(tmp_path_factory.mktemp("models") / "tiny-en-pt", source_lang="en", target_lang="pt")


def _env(tmp_path: Path) -> dict[str, str]:
    # transformers copies a model's code into HF_MODULES_CACHE before running it: keep that private.
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_MODULES_CACHE": str(tmp_path / "hf-modules"),
            "HF_HUB_OFFLINE": "1"}


@pytest.mark.slow
def test_the_hostile_folders_really_run_their_code_when_trusted(tiny_en_pt: Path, tmp_path: Path) -> None:
    """Control: with trust_remote_code=True, transformers 5.25 runs each folder's code (the marker appears)."""
    trusted = {name: how for name, (_, how) in VARIANTS.items() if how}
    folders = {name: _hostile(tiny_en_pt, tmp_path / name, name) for name in trusted}
    script = "import transformers, sys\n" + "".join(
        f"transformers.{how}.from_pretrained({str(folders[name][0])!r}, trust_remote_code=True)\n"
        for name, how in trusted.items()
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    for name, (_, marker) in folders.items():
        assert marker.read_text(encoding="utf-8") == "custom code ran", name


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_translate_refuses_a_folder_with_custom_code_even_with_y_on_stdin(
    tiny_en_pt: Path, tmp_path: Path, variant: str
) -> None:
    folder, marker = _hostile(tiny_en_pt, tmp_path / variant, variant)
    source = tmp_path / "in.txt"
    source.write_text("Hello world.\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "translate", "--model", str(folder), "--src", "en", "--tgt", "pt",
         str(source)],
        input="y\ny\ny\n", capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=300, check=False,
    )
    assert not marker.exists(), "the folder's code ran"
    assert proc.returncode == 1
    assert proc.stdout == ""  # no prompt, no translation
    error = proc.stderr.splitlines()[0]
    assert error == (f"error: model folder {folder} contains custom code ({VARIANTS[variant][0]}), "
                     "which mtpipe never runs")
    assert "trust_remote_code=False" in proc.stderr.splitlines()[1]
    assert not (tmp_path / "hf-modules").exists()


def test_without_the_folder_check_transformers_still_refuses(
    tiny_en_pt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second line of defence: trust_remote_code=False on every load, and no prompt."""
    from pipeline import models

    folder, marker = _hostile(tiny_en_pt, tmp_path / "evil", "config-auto-map")
    skipped: list[Path] = []
    monkeypatch.setattr(models, "check_no_custom_code", lambda folder, name: skipped.append(folder))
    monkeypatch.setattr("builtins.input", lambda *args: pytest.fail("transformers asked whether to run the code"))
    message = r"^model folder .*/evil contains custom code \(auto_map in config.json\)"
    with pytest.raises(ModelError, match=message) as info:
        models.open_model(str(folder))
    # The folder check raises the same message: the error must come from transformers' own refusal.
    assert skipped, "the folder check was not bypassed"
    assert isinstance(info.value.__cause__, ValueError) and "trust_remote_code=True" in str(info.value.__cause__)
    assert not marker.exists()


def test_a_plain_folder_still_loads(tiny_en_pt: Path) -> None:
    from pipeline.models import open_model

    assert open_model(str(tiny_en_pt)).family.name == "marian"
