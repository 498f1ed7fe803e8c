from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import __version__
from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpora" / "automated-translation-article.en.txt"
REF_PT = ROOT / "corpora" / "automated-translation-article.pt-BR.txt"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"mtpipe {__version__}"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "translate", "--src", "en")
    assert code == 2
    assert "--tgt" in err


def test_python_dash_m_pipeline_is_the_same_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"mtpipe {__version__}"


def test_segment_prints_the_articles_19_segments_with_paragraph_breaks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "segment", "--lang", "en", str(ARTICLE))
    assert code == 0
    lines = out.splitlines()
    segments = [line for line in lines if line]
    assert len(segments) == 19
    assert segments[0] == "Say 'cheese': China's Zhurong rover sends back selfie from Mars"
    # 14 paragraphs: 13 blank separators.
    assert lines.count("") == 13
    assert segments[-1].startswith("China has also brought back lunar samples")


def test_evaluate_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text(REF_PT.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run(capsys, "evaluate", "--refs", str(REF_PT), "--tgt", "pt-BR", str(hyp))
    assert code == 0
    assert out.splitlines()[0].startswith("BLEU|") and "= 100.00" in out.splitlines()[0]
    code, out, _ = run(capsys, "evaluate", "--refs", str(REF_PT), "--tgt", "pt-BR", "--format", "json", str(hyp))
    payload = json.loads(out)
    assert set(payload) == {"bleu", "chrf", "chrf++", "ter"}
    assert payload["bleu"]["score"] == 100.0
    assert payload["ter"]["score"] == 0.0
    assert payload["bleu"]["signature"].startswith("nrefs:1|")


@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        pytest.param(None, ["evaluate", "--refs", "{missing}", "--tgt", "pt", "{hyp}"], "file not found: ",
                     id="missing-file"),
        pytest.param(b"", ["evaluate", "--refs", "{ref}", "--tgt", "pt", "{bad}"], "is empty", id="empty-file"),
        pytest.param(b"ok line\nol\xe1\n", ["evaluate", "--refs", "{ref}", "--tgt", "pt", "{bad}"],
                     "line 2 is not valid UTF-8", id="not-utf8"),
        pytest.param(b"one\ntwo\n", ["evaluate", "--refs", "{ref}", "--tgt", "pt", "{bad}"], "2 lines",
                     id="line-count"),
        pytest.param(None, ["evaluate", "--refs", "{ref}", "--tgt", "xx-klingon", "{hyp}"], "unknown language code",
                     id="bad-language"),
        pytest.param(None, ["segment", "--lang", "qq9", "{hyp}"], "unknown language code 'qq9'",
                     id="segment-bad-language"),
        pytest.param(None, ["run", "{missing}"], "config file not found", id="missing-config"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: bytes | None, argv: list[str], message: str
) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a\nb\nc\n", encoding="utf-8")
    ref = tmp_path / "ref.txt"
    ref.write_text("a\nb\nc\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    if make is not None:
        bad.write_bytes(make)
    names = {"{hyp}": str(hyp), "{ref}": str(ref), "{bad}": str(bad), "{missing}": str(tmp_path / "missing.txt")}
    code, out, err = run(capsys, *[names.get(a, a) for a in argv])
    assert code == 1
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith("error: ") and message in first
    assert "Traceback" not in err
