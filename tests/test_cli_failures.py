"""Every file-system failure and every bad number ends in one `error: ...` line naming the path or value,
exit status 1 (2 for a bad option), and leaves no temporary, `.partial` or half-written file behind.

A full disk is simulated by making ``os.fsync`` fail with ENOSPC for the file being written (every write
of ours is fsync'd), a read-only folder with ``chmod`` (and, for root, who may write anyway, by making
``os.access`` answer as it does for everyone else): CI needs no small tmpfs.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.helpers.jobs import make_job

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpora" / "automated-translation-article.en.txt"
STEM = "big.en-de.tiny"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    """The `error:` line of a failed command's stderr, checked to be its only error and no traceback."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def leftovers(folder: Path) -> list[str]:
    """Files that a failed run must not leave: temporary files, journals, final outputs."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.suffix in {".tmp", ".partial", ".txt", ".jsonl", ".json"})


def fail_fsync_of(monkeypatch: pytest.MonkeyPatch, matches: Callable[[str], bool]) -> list[str]:
    """Make ``os.fsync`` fail with ENOSPC for files whose path ``matches``; returns the paths it failed."""
    real, failed = os.fsync, []

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if matches(path):
            failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


def make_read_only(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """chmod ``paths`` read-only; for root, who writes anyway, ``os.access`` answers as for a user."""
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        real = os.access
        blocked = {str(p) for p in paths}

        def access(path: os.PathLike[str] | str, mode: int, **kwargs: object) -> bool:
            if str(path) in blocked and mode & os.W_OK:
                return False
            return real(path, mode, **kwargs)

        monkeypatch.setattr(os, "access", access)


def make_comparison(folder: Path, model: Path) -> Path:
    """``make_job``'s job with a second system and a reference (its own source), so that it can be compared."""
    config = make_job(folder, model, lines=12)
    text = config.read_text(encoding="utf-8").replace('tgt_langs = ["de"]', 'references = { "de" = "big.en.txt" }')
    second = text[text.index("[[systems]]"):text.index("[output]")].replace('"tiny"', '"tiny2"')
    config.write_text(text + second.replace("batch_tokens = 64", "batch_tokens = 32"), encoding="utf-8")
    return config


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds a descriptor's file in /proc")


# --------------------------------------------------------------------------
# Output folders
# --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["job", "--out"])
def test_an_output_folder_that_is_a_file(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str], how: str
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    blocker = tmp_path / ("out" if how == "job" else "elsewhere")
    blocker.write_text("a file\n", encoding="utf-8")
    code, out, err = run(capsys, "run", str(config), *(["--out", str(blocker)] if how == "--out" else []))
    assert code == 1 and out == ""
    assert one_error(err) == f"error: output folder {blocker} is a file, not a folder"
    assert "hint: choose another with --out" in err
    assert blocker.read_text(encoding="utf-8") == "a file\n"


def test_an_output_folder_under_a_file(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, _, err = run(capsys, "run", str(config), "--out", str(tmp_path / "file" / "out"))
    assert code == 1
    assert one_error(err) == (
        f"error: output folder {tmp_path / 'file' / 'out'} cannot be made: {tmp_path / 'file'} is a file, not a folder"
    )


def test_a_read_only_output_folder(
    tmp_path: Path,
    tiny_model: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    make_read_only(monkeypatch, out_dir)
    try:
        code, _, err = run(capsys, "run", str(config))
    finally:
        out_dir.chmod(0o755)
    assert code == 1
    assert one_error(err) == f"error: cannot write in output folder {out_dir}: Permission denied"
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("where", ["journal", "outputs"])
@needs_proc
def test_a_full_disk_while_a_job_writes(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    out_dir = tmp_path / "out"
    # The journal is appended to; each output is written to a temporary file and renamed.
    target = f"{STEM}.partial" if where == "journal" else f".{STEM}.jsonl."
    failed = fail_fsync_of(monkeypatch, lambda path: Path(path).name.startswith(target) if where == "outputs"
                           else path.endswith(target))
    code, out, err = run(capsys, "-q", "run", str(config), "--no-cache")
    assert failed and code == 1 and out == ""
    name = f"{STEM}.partial" if where == "journal" else f"{STEM}.jsonl"
    assert one_error(err) == f"error: cannot write {out_dir / name}: No space left on device"
    if where == "journal":
        # Nothing was journaled: nothing is left.
        assert leftovers(out_dir) == []
        return
    # The whole translation is in the journal, and the message says so; no output stands alone.
    assert leftovers(out_dir) == [f"{STEM}.partial"]
    assert (
        f"hint: make room and run the same command again: the 12 translated segments are kept in {STEM}.partial" in err
    )
    monkeypatch.undo()
    code, _, err = run(capsys, "run", str(config), "--no-cache")
    assert code == 0, err
    assert "resuming after 12 of 12 segments" in err
    assert len((out_dir / f"{STEM}.txt").read_text(encoding="utf-8").splitlines()) == 12
    assert not (out_dir / f"{STEM}.partial").exists()


@needs_proc
def test_a_full_disk_after_some_chunks_keeps_them_for_the_next_run(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)  # chunks of 4
    calls: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:  # the journal's third fsync: its second chunk
        if os.readlink(f"/proc/self/fd/{fd}").endswith(f"{STEM}.partial"):
            calls.append("journal")
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, _, err = run(capsys, "-q", "run", str(config), "--no-cache")
    assert code == 1
    assert one_error(err) == f"error: cannot write {tmp_path / 'out' / (STEM + '.partial')}: No space left on device"
    assert "hint: 4 of 12 segments are kept in it: make room and run the same command again to resume" in err
    monkeypatch.undo()
    code, _, err = run(capsys, "run", str(config), "--no-cache")
    # (The simulated failure comes after the second chunk reached the file: the next run may find it whole.)
    resumed = re.search(r"resuming after (\d+) of 12 segments", err)
    assert code == 0 and resumed and int(resumed[1]) >= 4, err


@needs_proc
def test_a_full_disk_while_writing_the_reports(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_comparison(tmp_path, tiny_model("marian"))
    reports = tmp_path / "reports"
    fail_fsync_of(monkeypatch, lambda path: Path(path).name.startswith(".report.html."))
    code, _, err = run(capsys, "-q", "compare", str(config), "--samples", "10", "--out", str(reports))
    assert code == 1
    assert one_error(err) == f"error: cannot write {reports / 'report.html'}: No space left on device"
    assert sorted(p.name for p in reports.iterdir()) == ["report.json", "report.md"]  # whole files, no temporary one


def test_compare_out_that_is_a_file_fails_before_any_work(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    blocker = tmp_path / "report-here"
    blocker.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "compare", str(config), "--out", str(blocker))
    assert code == 1
    assert one_error(err) == f"error: report folder {blocker} is a file, not a folder"
    assert not (tmp_path / "out").exists(), "nothing translated"


# --------------------------------------------------------------------------
# Standard output, the model store, the translation cache
# --------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "argv", [["segment", "--lang", "en", str(ARTICLE)], ["models", "list"]], ids=["segment", "list"]
)
def test_stdout_on_a_full_device(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "pipeline", *argv], stdout=full, stderr=subprocess.PIPE,
                              text=True, check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("how", ["env", "--dest"])
def test_a_model_store_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    store = tmp_path / "store"
    store.write_text("", encoding="utf-8")
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n", encoding="utf-8")
    if how == "env":
        monkeypatch.setenv("MTPIPE_MODEL_STORE", str(store))
        code, _, err = run(capsys, "translate", "--src", "en", "--tgt", "pt", str(source))
    else:
        code, _, err = run(capsys, "models", "import", "bergamot", "--dest", str(store))
    assert code == 1
    assert one_error(err) == f"error: model store {store} is a file, not a folder"
    assert "hint: set $MTPIPE_MODEL_STORE (or --dest) to a writable folder" in err


def test_a_full_disk_while_converting_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch
    from safetensors import SafetensorError

    def save_file(*args: object, **kwargs: object) -> None:
        # What safetensors raises on a full disk (its Rust writer's I/O error).
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    store = tmp_path / "store"
    code, _, err = run(capsys, "models", "import", "bergamot", "--dest", str(store))
    assert code == 1
    assert one_error(err).startswith(f"error: cannot write model {store / 'bergamot-en-pt'}: ")
    assert "No space left on device" in err
    assert list(store.iterdir()) == [], "the half-converted model is gone"


def make_cache(path: Path) -> None:
    from pipeline.cache import TranslationCache

    TranslationCache(path).close()


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_cache_says_read_only(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    cache = folder / "translations.sqlite3"
    make_cache(cache)
    monkeypatch.setenv("MTPIPE_CACHE", str(cache))
    source = tmp_path / "in.txt"
    source.write_text("The rover sent a selfie.\n", encoding="utf-8")
    make_read_only(monkeypatch, cache if what == "file" else folder)
    try:
        code, out, err = run(capsys, "translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de",
                             "--max-length", "4", str(source))
    finally:
        folder.chmod(0o755)
        cache.chmod(0o644)
    assert code == 1 and out == ""
    line = one_error(err)
    expected = "is read-only" if what == "file" else "is in a read-only folder"
    assert line == f"error: the translation cache {cache} {expected}"
    assert "damaged" not in err and "delete" not in err
    assert "hint: make it writable, set $MTPIPE_CACHE to a file in a writable folder, or run with --no-cache" in err


def test_a_cache_under_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    monkeypatch.setenv("MTPIPE_CACHE", str(tmp_path / "file" / "translations.sqlite3"))
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n", encoding="utf-8")
    code, _, err = run(capsys, "translate", "--src", "en", "--tgt", "pt", str(source))
    assert code == 1
    assert one_error(err) == f"error: the translation cache's folder {tmp_path / 'file'} is a file, not a folder"


# --------------------------------------------------------------------------
# Numbers and types in a job or on the command line
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("beam = 9223372036854775807", "beam must be a whole number from 1 to 256, got 9223372036854775807",
                     id="beam-2**63"),
        pytest.param("beam = 1e12", "beam must be a whole number from 1 to 256, got 1000000000000.0",
                     id="beam-1e12"),
        pytest.param("tgt_langs = [1, 2]", "tgt_langs must be a list of language codes in quotes, got [1, 2]",
                     id="tgt-langs-numbers"),
    ],
)
def test_bad_numbers_and_types_in_a_job(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    config.write_text(config.read_text(encoding="utf-8").replace("chunk_size = 4", f"chunk_size = 4\n{line}"),
                      encoding="utf-8")
    code, _, err = run(capsys, "run", str(config))
    assert code == 1
    assert one_error(err).endswith(message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--beam", "9223372036854775807", "argument --beam: must be from 1 to 256, got 9223372036854775807",
                     id="beam"),
        pytest.param("--max-length", "1000000000000", "must be from 1 to 16384, got 1000000000000", id="max-length"),
        pytest.param("--batch-tokens", "0", "must be from 1 to 1048576, got 0", id="batch-tokens"),
    ],
)
def test_bad_numbers_on_the_command_line(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    code, _, err = run(capsys, "translate", "--src", "en", "--tgt", "pt", option, value)
    assert code == 2
    assert message in err


# --------------------------------------------------------------------------
# Inputs: blank files, CR line ends; the seed
# --------------------------------------------------------------------------


def test_an_all_blank_hypothesis_file_is_called_blank_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("  \n\n\t\n", encoding="utf-8")
    ref.write_text("a\nb\nc\n", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", "--refs", str(ref), "--tgt", "pt", str(hyp))
    assert code == 1
    assert one_error(err) == f"error: {hyp} has no text: all 3 lines are blank"
    hyp.write_bytes(b"")
    code, _, err = run(capsys, "evaluate", "--refs", str(ref), "--tgt", "pt", str(hyp))
    assert one_error(err) == f"error: {hyp} is empty"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_newline_style_splits_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], newline: str) -> None:
    lines = ["The rover sent a selfie.", "It landed in May.", "China is the second country to land there."]
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_bytes(newline.join(lines).encode() + newline.encode())
    ref.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "evaluate", "--refs", str(ref), "--tgt", "en", "--format", "json", str(hyp))
    assert code == 0, err
    assert '"score": 100.0' in out


def test_a_cr_only_document_keeps_its_paragraphs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    (tmp_path / "lf.txt").write_text(text, encoding="utf-8")
    (tmp_path / "cr.txt").write_bytes(text.replace("\n", "\r").encode("utf-8"))
    outputs = []
    for name in ("lf.txt", "cr.txt"):
        code, out, err = run(capsys, "segment", "--lang", "en", str(tmp_path / name))
        assert code == 0, err
        outputs.append(out)
    assert outputs[1] == outputs[0]
    assert outputs[0].count("\n\n") == 13  # the article's 14 paragraphs


def test_seed_0_is_accepted(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_comparison(tmp_path, tiny_model("marian"))
    code, _, err = run(capsys, "-q", "compare", str(config), "--samples", "20", "--seed", "0")
    assert code == 0, err
    assert "seed:0" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    code, _, err = run(capsys, "compare", str(config), "--seed", "-1")
    assert code == 2 and "argument --seed: must be at least 0, got -1" in err


def test_counts_of_one_are_singular() -> None:
    from pipeline.align import align_document
    from pipeline.errors import InputError

    with pytest.raises(InputError) as info:
        align_document(["Olá."], [0], [["um", "dois", "três"]], tgt_lang="pt")
    assert str(info.value) == (
        "cannot align the document with the reference: 1 segment in 1 paragraph, but the reference has 3 lines"
    )
    assert info.value.hint.startswith("give a reference with 1 line (one per segment), 1 line (one per paragraph)")
