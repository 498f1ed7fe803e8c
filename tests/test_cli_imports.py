"""What each command imports: torch and transformers only where a model runs, and never transformers' model base.

Each command runs in a fresh child process (``main(argv)``), which then reports the heavy
modules in ``sys.modules``. Speed itself is measured by benchmarks/startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "transformers", "transformers.modeling_utils", "pipeline.models.bergamot.modeling"]
CHILD = """
import json, sys
from pipeline.cli import main
code = main(json.loads(sys.argv[1]))
sys.stdout.flush()
print(json.dumps({"code": code, "imported": [name for name in json.loads(sys.argv[2]) if name in sys.modules]}),
      file=sys.stderr)
"""


def run(argv: list[str], stdin: str = "") -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv), json.dumps(HEAVY)],
        input=stdin, capture_output=True, text=True, cwd=ROOT, check=False, timeout=300,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report, proc.stdout


@pytest.fixture
def texts(tmp_path: Path) -> tuple[str, str]:
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("Olá, mundo.\n", encoding="utf-8")
    ref.write_text("Olá mundo.\n", encoding="utf-8")
    return str(hyp), str(ref)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--help"], "usage: mtpipe", id="help"),
        pytest.param(["models", "list"], "built-in models: bergamot-en-pt", id="models-list"),
        pytest.param(["evaluate", "--refs", "{ref}", "--tgt", "pt-BR", "{hyp}"], "BLEU|nrefs:1", id="evaluate"),
    ],
)
def test_commands_without_a_model_import_neither_torch_nor_transformers(
    argv: list[str], expected: str, texts: tuple[str, str]
) -> None:
    hyp, ref = texts
    report, out = run([arg.format(hyp=hyp, ref=ref) for arg in argv])
    assert report["code"] == 0
    assert expected in out
    assert report["imported"] == []


@pytest.fixture(scope="module")
def converted() -> None:
    """The embedded model converted beforehand (converting imports the model classes)."""
    from pipeline.models.bergamot import ensure_model

    ensure_model("en-pt")


@pytest.mark.slow
@pytest.mark.parametrize("cache", [pytest.param([], id="cache"), pytest.param(["--no-cache"], id="no-cache")])
def test_a_line_through_the_embedded_model_skips_transformers_model_classes(converted: None, cache: list[str]) -> None:
    # The default greedy translation runs the torch-only Bergamot model (pipeline.models.bergamot.runner).
    argv = ["-q", "translate", "--src", "en", "--tgt", "pt-BR", *cache]
    report, out = run(argv, stdin="Hello world.\n")
    assert (report["code"], out) == (0, "Olá, mundo.\n")
    assert report["imported"] == ["torch", "transformers"]


@pytest.mark.slow
def test_beam_search_still_loads_the_transformers_model(converted: None) -> None:
    argv = ["-q", "translate", "--src", "en", "--tgt", "pt-BR", "--beam", "2", "--no-cache"]
    report, out = run(argv, stdin="Hello world.\n")
    assert (report["code"], out) == (0, "Olá, mundo.\n")
    assert report["imported"] == HEAVY
