"""Resumable jobs: a job killed with SIGKILL and started again ends as if never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.backends.generation import Seq2SeqGenerator
from pipeline.cli import main
from pipeline.journal import Journal
from tests.helpers.jobs import make_job

STEM = "big.en-de.tiny"
OUTPUTS = (f"{STEM}.txt", f"{STEM}.jsonl", f"{STEM}.meta.json")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Callable[[str], Path]) -> Path:
    """An uninterrupted run of the job, without the cache."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    assert main(["-q", "run", "--no-cache", str(make_job(folder, tiny_model("marian")))]) == 0
    return folder / "out"


def journal_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def committed(path: Path) -> int:
    """Segments in the journal's whole chunks (those followed by their end line)."""
    total = pending = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
        try:
            record = json.loads(line)
        except ValueError:
            break
        if "end" in record:
            total, pending = total + pending, 0
        else:
            pending += 1
    return total


@pytest.mark.slow
def test_a_killed_job_resumes_and_ends_byte_identical(
    tmp_path: Path, tiny_model: Callable[[str], Path], reference_run: Path
) -> None:
    config = make_job(tmp_path, tiny_model("marian"))
    command = [sys.executable, "-m", "pipeline", "run", "--no-cache", str(config)]
    # This checkout's pipeline, whatever an installed copy (the child runs in tmp_path).
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    journal = tmp_path / "out" / f"{STEM}.partial"
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # Header + at least two chunks, but far from the 240 segments.
        while journal_lines(journal) < 10 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    journaled = committed(journal)
    assert 0 < journaled < 240
    out = tmp_path / "out"
    assert not any((out / name).exists() for name in OUTPUTS), "nothing under a final name before the end"
    # As if killed in the middle of a write: a torn last line.
    with journal.open("ab") as handle:
        handle.write(b'{"n": 399, "transl')

    resumed = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after {journaled} of 240 segments" in resumed.stderr
    (result,) = json.loads((tmp_path / "out" / "scores.json").read_text(encoding="utf-8"))["results"]
    assert result["segments_resumed"] == journaled and result["segments_translated"] == 240 - journaled
    assert result["segments_from_cache"] == 0 and result["segments_per_s"] > 0
    for name in (f"{STEM}.txt", f"{STEM}.jsonl"):
        assert (out / name).read_bytes() == (reference_run / name).read_bytes(), name
    assert len((out / f"{STEM}.txt").read_text(encoding="utf-8").splitlines()) == 240
    assert not journal.exists(), "the journal goes once the task is done"
    assert not list(out.glob(".*.tmp"))


def test_a_finished_task_is_skipped(
    tmp_path: Path, tiny_model: Callable[[str], Path], reference_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    for name in OUTPUTS:
        (out / name).write_bytes((reference_run / name).read_bytes())
    config = make_job(tmp_path, tiny_model("marian"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was called for a finished task")

    monkeypatch.setattr(Seq2SeqGenerator, "generate", refuse)
    assert main(["-q", "run", "--no-cache", str(config)]) == 0
    (result,) = json.loads((out / "scores.json").read_text(encoding="utf-8"))["results"]
    assert result["segments"] == 240
    # Its figures are those of the run that translated it.
    (translated,) = json.loads((reference_run / "scores.json").read_text(encoding="utf-8"))["results"]
    figures = ("segments_translated", "segments_from_cache", "segments_resumed", "translation_seconds",
               "segments_per_s", "tokens_per_s", "peak_rss_mb")
    assert {key: result[key] for key in figures} == {key: translated[key] for key in figures}
    assert result["segments_translated"] == 240 and result["segments_per_s"] > 0

    # Finished by an mtpipe that did not record them: its segments count as resumed, with no speed.
    meta = out / f"{STEM}.meta.json"
    identity = json.loads(meta.read_text(encoding="utf-8"))["identity"]
    meta.write_text(json.dumps({"identity": identity, "seconds": 0.5, "peak_rss_mb": 321.0}), encoding="utf-8")
    assert main(["-q", "run", "--no-cache", str(config)]) == 0
    (result,) = json.loads((out / "scores.json").read_text(encoding="utf-8"))["results"]
    assert {key: result[key] for key in figures} == {
        "segments_translated": 0, "segments_from_cache": 0, "segments_resumed": 240, "translation_seconds": 0.0,
        "segments_per_s": None, "tokens_per_s": None, "peak_rss_mb": 321.0,
    }


@pytest.mark.slow
def test_a_resumed_task_counts_what_its_journal_held(
    tmp_path: Path, tiny_model: Callable[[str], Path], reference_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The journal of a run stopped after two chunks of 4 (the reference run's own translations).
    out = tmp_path / "out"
    out.mkdir(parents=True)
    identity = json.loads((reference_run / f"{STEM}.meta.json").read_text(encoding="utf-8"))["identity"]
    lines = (reference_run / f"{STEM}.txt").read_text(encoding="utf-8").splitlines()
    journal = Journal(out / f"{STEM}.partial", identity, 240)
    assert journal.open() == {}
    journal.append([(n, lines[n]) for n in range(4)])
    journal.append([(n, lines[n]) for n in range(4, 8)])
    journal.close()
    config = make_job(tmp_path, tiny_model("marian"))
    assert main(["-q", "run", str(config)]) == 0  # the (empty) cache on: it supplies nothing here
    (result,) = json.loads((out / "scores.json").read_text(encoding="utf-8"))["results"]
    assert (result["segments_translated"], result["segments_from_cache"], result["segments_resumed"]) == (232, 0, 8)
    assert result["segments_per_s"] > 0
    assert (out / f"{STEM}.txt").read_bytes() == (reference_run / f"{STEM}.txt").read_bytes()
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[3:4] + row[5:8] == ["240", "232", "0", "8"]  # segs; translated, cached, resumed


def test_a_changed_config_does_not_reuse_a_stale_journal_or_outputs(
    tmp_path: Path, tiny_model: Callable[[str], Path], reference_run: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    # Outputs and a journal of the same task under other settings (max_length 8 there, 6 here).
    for name in OUTPUTS:
        (out / name).write_bytes((reference_run / name).read_bytes())
    meta = json.loads((out / f"{STEM}.meta.json").read_text(encoding="utf-8"))
    stale = [json.dumps({"identity": meta["identity"], "segments": 240})]
    stale += [json.dumps({"n": n, "translation": "STALE"}) for n in range(10)]
    (out / f"{STEM}.partial").write_text("\n".join(stale) + "\n", encoding="utf-8")
    config = make_job(tmp_path, tiny_model("marian"), max_length=6)
    assert main(["-q", "run", "--no-cache", str(config)]) == 0
    lines = (out / f"{STEM}.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 240 and "STALE" not in lines
    assert json.loads((out / f"{STEM}.meta.json").read_text(encoding="utf-8"))["identity"] != meta["identity"]


def test_only_whole_chunks_of_the_journal_count(tmp_path: Path) -> None:
    # A chunk cut short (killed between its lines and its end line) is dropped, so the
    # resumed task starts at a chunk boundary and groups its segments as before.
    path = tmp_path / "task.partial"
    journal = Journal(path, "abc", 10)
    assert journal.open() == {}
    journal.append([(0, "zero"), (1, "um")])
    journal.append([(2, "dois"), (3, "três")])
    journal.close()
    whole = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"n": 4, "translation": "quatro"}\n{"n": 5, "translation": "cinco"}\n{"n": 6, "tr')
    journal = Journal(path, "abc", 10)
    assert journal.open() == {0: "zero", 1: "um", 2: "dois", 3: "três"}
    journal.append([(4, "quatro")])
    journal.close()
    assert path.read_bytes() == whole + b'{"n": 4, "translation": "quatro"}\n{"end": 1}\n'
    # An end line that does not match its chunk is damage: the chunk is not taken.
    path.write_bytes(whole + b'{"n": 4, "translation": "quatro"}\n{"end": 2}\n')
    assert reopened(path, "abc") == {0: "zero", 1: "um", 2: "dois", 3: "três"}
    # A journal of the old format (no end lines) or of another task starts afresh.
    path.write_bytes(b'{"identity": "abc", "segments": 10}\n{"n": 0, "translation": "zero"}\n')
    assert reopened(path, "abc") == {}
    assert reopened(path, "other") == {}


def reopened(path: Path, identity: str) -> dict[int, str]:
    journal = Journal(path, identity, 10)
    try:
        return journal.open()
    finally:
        journal.close()
