"""`import pipeline` alone makes a converted Bergamot folder loadable through the Auto classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.models.bergamot import import_bergamot


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (path,) = import_bergamot(dest=tmp_path_factory.mktemp("store"), directions=("en-pt",))
    return path


LOAD = """
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer
model = AutoModelForSeq2SeqLM.from_pretrained({folder!r})
tokenizer = AutoTokenizer.from_pretrained({folder!r})
print(type(AutoConfig.from_pretrained({folder!r})).__name__, type(model).__name__, type(tokenizer).__name__)
batch = tokenizer(["Hello world."], return_tensors="pt")
print(tokenizer.batch_decode(model.generate(**batch), skip_special_tokens=True)[0])
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "prelude",
    [
        pytest.param("import pipeline\n", id="pipeline-then-transformers"),
        pytest.param("import transformers\nimport pipeline\n", id="transformers-then-pipeline"),
        pytest.param("from transformers import AutoConfig\nimport pipeline\n", id="auto-classes-then-pipeline"),
    ],
)
def test_auto_classes_load_the_folder_after_import_pipeline(folder: Path, prelude: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", prelude + LOAD.format(folder=str(folder))],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    classes, translation = proc.stdout.splitlines()[-2:]
    assert classes == "BergamotConfig BergamotForConditionalGeneration BergamotTokenizer"
    assert translation == "Olá, mundo."


def test_import_pipeline_stays_light() -> None:
    code = "import sys, pipeline; print('torch' in sys.modules, 'transformers' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "False"]


def test_transformers_alone_does_not_load_the_auto_classes_index() -> None:
    # The hook waits for transformers.models.auto: `import transformers` and the classes a Bergamot
    # folder is read with stay cheap; the Auto classes still know the bergamot type once imported.
    code = (
        "import sys, pipeline, transformers\n"
        "from transformers import PreTrainedConfig, TokenizersBackend\n"
        "print('transformers.models' in sys.modules)\n"
        "from transformers import AutoConfig\n"
        "from transformers.models.auto.configuration_auto import CONFIG_MAPPING\n"
        "print('bergamot' in CONFIG_MAPPING)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "True"]
