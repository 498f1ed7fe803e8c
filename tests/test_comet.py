"""COMET as a metric: settings, the worker in COMET's own environment, scores, significance, jobs and the CLI.

The slow tests run unbabel-comet itself on a tiny random checkpoint built in
the test (tests/helpers/comet_checkpoint.py), in COMET's environment
(``.venv-comet``, made by the README's test command); no network.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import comet
from pipeline.cli import main
from pipeline.comet import COMET_PYTHON_ENV, DEFAULT_MODEL, CometSettings, score_segments
from pipeline.config import load_config
from pipeline.errors import ConfigError, InputError, ModelError
from pipeline.evaluate import score_corpus
from pipeline.metrics import METRIC_NAMES, METRICS, metric_for
from pipeline.significance import compare_systems
from tests.helpers.comet import COMET_PYTHON, build_checkpoint, needs_comet

SOURCES = ["the cat runs", "the dog sleeps", "a red house", "the green dog runs", "a small cat", "the big house"]
REFERENCES = ["o gato corre", "o cão dorme", "uma casa vermelha", "o cão verde corre", "um gato pequeno",
              "a casa grande"]
GOOD = list(REFERENCES)
BAD = ["casa", "o cão dorme", "gato gato gato", "verde", "um gato pequeno", "der Hund"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def fresh_scores() -> None:
    """Each test starts with no COMET scores kept in the process."""
    comet._SCORES.clear()
    comet._PROVENANCE.clear()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if COMET_PYTHON is None:
        pytest.skip("no COMET environment")
    return build_checkpoint(tmp_path_factory.mktemp("comet") / "tiny-comet")


# --------------------------------------------------------------------------
# The registry and the settings (no COMET needed)
# --------------------------------------------------------------------------


def test_comet_is_registered_but_not_a_default_metric() -> None:
    assert "comet" in METRICS and METRICS["comet"].needs_sources and METRICS["comet"].higher_is_better
    assert "comet" not in METRIC_NAMES
    assert METRIC_NAMES == ("bleu", "chrf", "chrf++", "ter")


def test_comet_without_sources_is_refused() -> None:
    with pytest.raises(InputError, match="source sentences"):
        metric_for("comet", "pt")


def test_settings_default_to_the_wmt22_model_and_keep_hub_ids() -> None:
    assert CometSettings.from_options(None) == CometSettings(DEFAULT_MODEL, None, 16)
    settings = CometSettings.from_options({"model": "Unbabel/wmt23-cometkiwi-da-xl", "batch_size": 4})
    assert settings.model == "Unbabel/wmt23-cometkiwi-da-xl" and settings.batch_size == 4
    assert settings.model_name == "Unbabel/wmt23-cometkiwi-da-xl"


def test_settings_resolve_local_checkpoints_against_the_base_folder(tmp_path: Path) -> None:
    ckpt = tmp_path / "my-comet" / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"x")
    folder = CometSettings.from_options({"model": "my-comet"}, tmp_path)
    assert folder.model == str((tmp_path / "my-comet").resolve()) and folder.model_name == "my-comet"
    file = CometSettings.from_options({"model": "my-comet/checkpoints/model.ckpt"}, tmp_path)
    assert file.model == str(ckpt.resolve()) and file.model_name == "my-comet"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"modle": "x"}, "unknown key 'modle'"),
        ({"batch_size": "8"}, "batch_size must be a int"),
        ({"batch_size": True}, "batch_size must be a int"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"model": "./missing"}, "no such checkpoint file or folder"),
        ({"model": "missing.ckpt"}, "no such checkpoint file or folder"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        CometSettings.from_options(options, tmp_path)
    assert "\n" not in caught.value.message


def test_without_an_interpreter_the_error_says_how_to_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COMET_PYTHON_ENV, raising=False)
    with pytest.raises(ConfigError, match="its own Python environment") as caught:
        CometSettings().interpreter()
    assert "pip install torch==2.13.0 unbabel-comet" in caught.value.hint
    monkeypatch.setenv(COMET_PYTHON_ENV, "/no/such/python")
    with pytest.raises(ConfigError, match="not an executable file"):
        CometSettings().interpreter()
    monkeypatch.setenv(COMET_PYTHON_ENV, "no-such-python-on-the-path")
    with pytest.raises(ConfigError, match="not an executable file"):
        CometSettings().interpreter()


def test_a_python_is_a_path_from_the_job_folder_or_a_command_on_the_path(tmp_path: Path) -> None:
    settings = CometSettings.from_options({"python": "env/bin/python"}, tmp_path)
    assert settings.python == str(tmp_path / "env" / "bin" / "python")
    named = CometSettings.from_options({"python": Path(sys.executable).name}, tmp_path)
    assert named.python == Path(sys.executable).name
    assert Path(named.interpreter()).is_file()  # found on the PATH (the test runs in its venv's Python)


def test_a_python_without_comet_is_a_config_error(tmp_path: Path) -> None:
    # This test environment is mtpipe's: transformers 5, so no unbabel-comet. The worker really runs.
    settings = CometSettings(model=str(tmp_path), python=sys.executable)
    with pytest.raises(ConfigError, match="unbabel-comet is not installed in"):
        score_segments(SOURCES[:1], GOOD[:1], REFERENCES[:1], settings)


def test_segment_counts_must_match() -> None:
    with pytest.raises(InputError, match="2 sources, 1 hypotheses and 1 references"):
        score_segments(SOURCES[:2], GOOD[:1], REFERENCES[:1], CometSettings(python=sys.executable))


def test_a_job_names_its_metrics_and_comet_settings(tmp_path: Path) -> None:
    (tmp_path / "ck").mkdir()
    job = tmp_path / "job.toml"
    body = ('[[corpora]]\nname = "c"\nsource = "c.txt"\nsrc_lang = "en"\ntgt_langs = ["pt"]\n\n'
            '[[systems]]\nname = "s"\nmodel = "m"\n')
    job.write_text('metrics = ["bleu", "comet"]\n[comet]\nmodel = "ck"\npython = "/usr/bin/python3"\n' + body)
    config = load_config(job)
    assert config.metrics == ("bleu", "comet")
    assert config.metric_options["comet"] == CometSettings(str((tmp_path / "ck").resolve()), "/usr/bin/python3", 16)
    job.write_text(body)
    assert load_config(job).metrics == METRIC_NAMES
    job.write_text('metrics = ["bleu", "cmoet"]\n' + body)
    with pytest.raises(ConfigError, match="unknown metric 'cmoet'"):
        load_config(job)
    job.write_text('[comet]\nmodel = "ck"\n' + body)
    with pytest.raises(ConfigError, match="'comet' is not in metrics"):
        load_config(job)


# --------------------------------------------------------------------------
# COMET itself, on the tiny checkpoint
# --------------------------------------------------------------------------

_DIRECT = """
import json, sys
from comet import load_from_checkpoint
data = json.load(open(sys.argv[2]))
model = load_from_checkpoint(sys.argv[1])
print(json.dumps(model.predict(data, batch_size=1, gpus=0, progress_bar=False).scores))
"""


@needs_comet
def test_scores_are_comets_own(checkpoint: Path, tmp_path: Path) -> None:
    """The scores equal unbabel-comet's predict, run directly, one segment per batch."""
    samples = [{"src": s, "mt": m, "ref": r} for s, m, r in zip(SOURCES, BAD, REFERENCES, strict=True)]
    (tmp_path / "data.json").write_text(json.dumps(samples))
    done = subprocess.run([COMET_PYTHON, "-c", _DIRECT, str(checkpoint / "checkpoints" / "model.ckpt"),
                           str(tmp_path / "data.json")], capture_output=True, text=True, check=True)
    direct = json.loads(done.stdout.strip().splitlines()[-1])
    settings = CometSettings(model=str(checkpoint), python=COMET_PYTHON)
    ours = score_segments(SOURCES, BAD, REFERENCES, settings)
    assert ours.scores == pytest.approx(direct, abs=1e-6)
    assert len(set(ours.scores)) > 1  # a random model still tells these segments apart
    digest = hashlib.sha256((checkpoint / "checkpoints" / "model.ckpt").read_bytes()).hexdigest()
    assert ours.checkpoint_sha256 == digest
    version = subprocess.run([COMET_PYTHON, "-c", "from importlib.metadata import version; "
                              "print(version('unbabel-comet'))"], capture_output=True, text=True, check=True)
    assert ours.comet_version == version.stdout.strip()

    scores = score_corpus(BAD, [REFERENCES], "pt", ("bleu", "comet"), sources=SOURCES,
                          options={"comet": settings})
    assert list(scores) == ["bleu", "comet"]
    assert scores["comet"].score == pytest.approx(100 * sum(direct) / len(direct), abs=1e-4)
    assert f"model:tiny-comet|ckpt:{digest[:12]}|comet:{ours.comet_version}" in scores["comet"].signature
    assert scores["comet"].text.startswith("COMET|nrefs:1|")


@needs_comet
def test_significance_with_comet_is_reproducible(checkpoint: Path) -> None:
    settings = CometSettings(model=str(checkpoint), python=COMET_PYTHON)
    systems = {"good": GOOD, "bad": BAD}

    def stats() -> dict:
        return compare_systems(systems, [REFERENCES], "pt", metrics=("chrf", "comet"), sources=SOURCES,
                               options={"comet": settings}, n=200)

    first = stats()
    comet._SCORES.clear()  # the second run scores with COMET again, in a new process
    second = stats()
    assert first == second
    bad = first["bad"]["comet"]
    assert bad.p_value is not None and 0 <= bad.p_value <= 1
    assert bad.delta == pytest.approx(bad.score - first["good"]["comet"].score)
    assert first["good"]["comet"].p_value is None  # the baseline
    assert "model:tiny-comet" in bad.signature and "bs:200" in bad.signature


@needs_comet
def test_a_compare_job_reports_comet(checkpoint: Path, tmp_path: Path, tiny_model,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src.en.txt").write_text("".join(line + "\n" for line in SOURCES), encoding="utf-8")
    (tmp_path / "ref.de.txt").write_text("".join(line + "\n" for line in REFERENCES), encoding="utf-8")
    config = tmp_path / "cmp.toml"
    config.write_text(
        f"""
metrics = ["bleu", "comet"]

[comet]
model = "{checkpoint}"
python = "{COMET_PYTHON}"
batch_size = 4

[[corpora]]
name = "small"
source = "src.en.txt"
src_lang = "en"
references = {{ "de" = "ref.de.txt" }}

[[systems]]
name = "greedy"
model = "{tiny_model('marian')}"
max_length = 8

[[systems]]
name = "beam2"
model = "{tiny_model('marian')}"
max_length = 8
beam = 2
""",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "-q", "compare", str(config), "--samples", "100", "--out", str(tmp_path / "out"))
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[-2:] == ["BLEU", "COMET"] and "TER" not in header
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"] == ["bleu", "comet"]
    (testset,) = report["testsets"]
    beam = testset["results"]["beam2"]["scores"]["comet"]
    assert beam["p_value"] is not None and "model:tiny-comet" in beam["signature"]
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "### COMET (higher is better)" in markdown
    scores = json.loads((tmp_path / "runs" / "cmp" / "scores.json").read_text(encoding="utf-8"))
    task_scores = {r["system"]: r["scores"]["comet"]["score"] for r in scores["results"]}
    greedy = testset["results"]["greedy"]["scores"]["comet"]["score"]
    assert task_scores["greedy"] == pytest.approx(greedy, abs=1e-9)


@needs_comet
def test_evaluate_scores_with_comet_from_the_command_line(checkpoint: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    files = {"src": SOURCES, "ref": REFERENCES, "hyp": BAD}
    for name, lines in files.items():
        (tmp_path / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    base = ["-q", "evaluate", "--refs", str(tmp_path / "ref.txt"), "--tgt", "pt", "--format", "json"]
    comet_args = ["--comet-model", str(checkpoint), "--comet-python", COMET_PYTHON]
    code, out, err = run(capsys, *base, "--metrics", "chrf,comet", "--source", str(tmp_path / "src.txt"),
                         *comet_args, str(tmp_path / "hyp.txt"))
    assert code == 0, err
    scores = json.loads(out)
    assert list(scores) == ["chrf", "comet"]
    direct = score_segments(SOURCES, BAD, REFERENCES, CometSettings(str(checkpoint), COMET_PYTHON))
    assert scores["comet"]["score"] == pytest.approx(100 * sum(direct.scores) / len(SOURCES), abs=1e-6)

    code, out, err = run(capsys, *base, "--metrics", "comet", *comet_args, str(tmp_path / "hyp.txt"))
    assert code == 1 and err.splitlines()[0] == "error: COMET scores with the source sentences, and none were given"
    (tmp_path / "short.txt").write_text("one\n", encoding="utf-8")
    code, out, err = run(capsys, *base, "--metrics", "comet", "--source", str(tmp_path / "short.txt"),
                         *comet_args, str(tmp_path / "hyp.txt"))
    assert code == 1 and err.startswith("error: ") and "short.txt" in err


@needs_comet
def test_an_unknown_model_offline_is_a_one_line_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = CometSettings(model="Unbabel/no-such-comet", python=COMET_PYTHON)
    with pytest.raises(ModelError, match="neither a local checkpoint nor downloadable") as caught:
        score_segments(SOURCES[:1], GOOD[:1], REFERENCES[:1], settings)
    assert "\n" not in caught.value.message
