from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if "pip install" in line]


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    run = [c for c in commands if "mtpipe run configs/article-en-pt.toml" in c]
    test = [c for c in commands if "pytest" in c]
    assert len(run) == 1 and len(test) == 1
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test[0] in ci.splitlines()
    # The suite runs the ray engine's and the ctranslate2 backend's tests: the test command installs the extras.
    assert "'.[test,ray,ct2]'" in test[0]
    # ... and COMET's own environment, which the COMET tests run unbabel-comet in.
    assert "python3 -m venv .venv-comet && .venv-comet/bin/pip install -q torch==2.13.0 unbabel-comet" in test[0]


def test_torch_is_pinned_before_the_project_install() -> None:
    # Every pip that could pull torch in (the project, unbabel-comet) gets the pinned CPU build first.
    for command in readme_commands():
        steps = [step.strip() for step in command.split("&&")]
        for number, step in enumerate(steps):
            if "unbabel-comet" in step:  # its own environment: the pin goes in the same pip call
                assert "pip install" in step and step.index("torch==2.13.0") < step.index("unbabel-comet"), step
            elif "pip install" in step and "-e" in step.split():
                assert any(s.startswith("pip install -q torch==2.13.0") for s in steps[:number]), step


def test_the_repository_reads_nothing_beside_it() -> None:
    # A user's clone has no ../shared: tests, configs, benchmarks and code use the in-repo copies.
    pattern = re.compile(r"""(\.\./|/|["'])shared([/"'])""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tests", "configs", "benchmarks", "pipeline")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and path.suffix in {".py", ".toml", ".md", ".j2", ".js", ".txt"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and path != Path(__file__).resolve()
    ]
    assert offenders == []
    flores = ROOT / "corpora" / "flores200-devtest"
    assert (flores / "LICENSE").read_text(encoding="utf-8").startswith("Attribution-ShareAlike 4.0 International")
    counts = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in flores.glob("*.devtest")}
    assert counts == {
        f"{code}.devtest": 1012 for code in ("deu_Latn", "eng_Latn", "fra_Latn", "por_Latn", "spa_Latn", "zho_Hans")
    }
