"""Progress: the library reports through a callback; the CLI draws a bar on stderr, never on stdout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.jobs import run_job
from pipeline.progress import Progress
from tests.helpers.jobs import make_job

LINES = [f"The rover sent selfie number {n} from Mars." for n in range(12)]


def test_a_job_reports_each_batch_and_each_chunk(tmp_path: Path, tiny_model: Callable[[str], Path]) -> None:
    seen: list[Progress] = []
    run_job(load_config(make_job(tmp_path, tiny_model("marian"), lines=12)), progress=seen.append)
    assert seen[0] == Progress("big.en-de.tiny", 0, 12)
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == 12 and {4, 8} <= set(done)
    # Chunks of 4 segments, batches of 64 tokens (2 or 3 of these segments): the bar moves inside a chunk too.
    assert set(done) - {0, 4, 8, 12}, done
    seen.clear()
    run_job(load_config(tmp_path / "job.toml"), progress=seen.append)
    assert seen == [Progress("big.en-de.tiny", 12, 12)], "a finished task reports itself done"


@pytest.mark.parametrize("quiet", [pytest.param(False, id="bar"), pytest.param(True, id="quiet")])
def test_translate_draws_its_bar_on_stderr_only(
    tmp_path: Path, tiny_model: Callable[[str], Path], capfd: pytest.CaptureFixture[str], quiet: bool
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(line + "\n" for line in LINES), encoding="utf-8")
    argv = ["translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de", "--max-length", "8",
            str(source)]
    assert main(["-q", *argv] if quiet else argv) == 0
    out, err = capfd.readouterr()
    assert len(out.splitlines()) == len(LINES)
    assert "seg/s" not in out and "%|" not in out
    if quiet:
        assert err == ""
    else:
        assert "translate: 100%|" in err and "12/12" in err and "seg/s" in err


def test_run_draws_its_bar_on_stderr_only(
    tmp_path: Path, tiny_model: Callable[[str], Path], capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(make_job(tmp_path, tiny_model("marian"), lines=12))]) == 0
    out, err = capfd.readouterr()
    assert "big.en-de.tiny: 100%|" in err and "12/12" in err
    assert "%|" not in out and out.splitlines()[0].split()[:3] == ["corpus", "direction", "system"]
