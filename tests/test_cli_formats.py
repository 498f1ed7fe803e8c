"""mtpipe translate and jobs on documents of every format: structure kept, markup in place, errors on one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.formats import EXTENSIONS, FormatOptions, format_for, read_document

DATA = Path(__file__).resolve().parent / "data" / "formats"
# Every fixture made by another tool, one or more per format (tests/data/formats/README.md).
FIXTURES = sorted(p for p in DATA.iterdir()
                  if p.suffix.lower() in EXTENSIONS and p.suffix != ".txt" and p.name != "README.md")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_there_is_a_fixture_for_every_format() -> None:
    formats = {format_for(path) for path in FIXTURES}
    assert formats == set(EXTENSIONS.values()) - {"text"}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_a_tiny_model_translates_every_fixture_into_a_valid_file_of_the_same_structure(
    fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_model: Callable[[str], Path]
) -> None:
    out = tmp_path / f"out{fixture.suffix}"
    code, _, err = run(capsys, "-q", "translate", "--src", "en", "--tgt", "pt", "--model", str(tiny_model("bergamot")),
                       "--max-length", "6", "-o", str(out), str(fixture))
    assert code == 0, err
    _assert_same_structure(fixture, out, exact=False)


def _assert_same_structure(source: Path, translated: Path, *, exact: bool = True) -> None:
    """The output reads back in its format with the source's units (targets filled, for localisation files).

    ``exact=False`` (a tiny random model's output, which can be empty or all code): most units are there.
    """
    fmt = format_for(source)
    options = FormatOptions(src_lang="en", tgt_lang="pt")
    before = read_document(source, fmt, options)
    after = read_document(translated, fmt, options)
    if fmt in ("xliff", "po", "tmx"):  # filled targets are no longer units: nothing is left to translate
        assert len(after.units) < len(before.units)
        return
    if not exact:
        assert len(before.units) * 0.8 <= len(after.units) <= len(before.units)
        return
    assert len(after.units) == len(before.units)
    if fmt in ("srt", "vtt", "jsonl", "tsv", "docx"):  # the same lines, cues, records, paragraphs
        assert [unit.where for unit in after.units] == [unit.where for unit in before.units]
    # DOCX derives its tags from the formatting that is not the paragraph's most common one, which a
    # translation can change (tests/test_formats_docx.py checks that bold stays on the right words).
    if fmt != "docx":
        assert [sorted(t.id for t in u.tags if t.kind != "keep") for u in after.units] == [
            sorted(t.id for t in u.tags if t.kind != "keep") for u in before.units
        ]


@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_the_embedded_model_translates_every_fixture(fixture: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"out{fixture.suffix}"
    code, _, err = run(capsys, "-q", "translate", "--src", "en", "--tgt", "pt-BR", "-o", str(out), str(fixture))
    assert code == 0, err
    _assert_same_structure(fixture, out)
    assert out.read_bytes() != fixture.read_bytes()


def test_a_broken_file_fails_on_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            tiny_model: Callable[[str], Path]) -> None:
    bad = tmp_path / "strings.xlf"
    bad.write_text('<?xml version="1.0"?>\n<xliff version="1.2"><file><body>\n<trans-unit id="1"><source>Hi',
                   encoding="utf-8")
    out = tmp_path / "out.xlf"
    code, stdout, err = run(capsys, "translate", "--src", "en", "--tgt", "pt", "--model", str(tiny_model("bergamot")),
                            "-o", str(out), str(bad))
    assert code == 1
    assert err.startswith("error: ") and "strings.xlf:3:" in err and "malformed XML" in err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()


def test_a_format_can_be_forced_for_standard_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   tiny_model: Callable[[str], Path], monkeypatch) -> None:  # noqa: ANN001
    import io
    import sys

    po = b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Open the file."\nmsgstr ""\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(po)))
    code, out, err = run(capsys, "-q", "translate", "--src", "en", "--tgt", "pt", "--format", "po",
                         "--model", str(tiny_model("bergamot")), "--max-length", "4")
    assert code == 0, err
    assert 'msgid "Open the file."' in out and "#, fuzzy" in out


def test_a_missing_glossary_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.txt"
    source.write_text("Hello.\n", encoding="utf-8")
    code, _, err = run(capsys, "translate", "--src", "en", "--tgt", "pt-BR", "--glossary", str(tmp_path / "g.tsv"),
                       str(source))
    assert code == 1 and err.startswith("error: glossary ") and "no such file" in err


@pytest.mark.slow
def test_the_glossary_is_enforced_on_the_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.txt"
    source.write_text("The rover Perseverance landed on Mars.\n", encoding="utf-8")
    glossary = tmp_path / "g.tsv"
    glossary.write_text("Perseverance\nrover\tjipe-robô\n", encoding="utf-8")
    code, out, err = run(capsys, "-v", "translate", "--src", "en", "--tgt", "pt-BR", "--glossary", str(glossary),
                         str(source))
    assert code == 0, err
    assert "jipe-robô" in out and "Perseverance" in out and "Perseverança" not in out
    assert "glossary: 2 terms matched" in err and "0 violated" in err


def test_a_job_lists_documents_of_mixed_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                tiny_model: Callable[[str], Path]) -> None:
    (tmp_path / "notes.txt").write_text("The rover landed.\n\nIt is red.\n", encoding="utf-8")
    (tmp_path / "g.tsv").write_text("rover\tjipe-robô\n", encoding="utf-8")
    corpora = [("notes", "notes.txt", 'glossary = "g.tsv"')]
    for fixture in FIXTURES:
        corpora.append((fixture.stem.replace(".", "-") + fixture.suffix.replace(".", "-"), str(fixture), ""))
    job = tmp_path / "job.toml"
    job.write_text("".join(
        f'[[corpora]]\nname = "{name}"\nsource = "{source}"\nsrc_lang = "en"\ntgt_langs = ["pt"]\n{extra}\n\n'
        for name, source, extra in corpora
    ) + f'[[systems]]\nname = "tiny"\nmodel = "{tiny_model("bergamot")}"\nmax_length = 6\n', encoding="utf-8")
    code, _, err = run(capsys, "-q", "run", str(job), "--no-cache", "--out", str(tmp_path / "out"))
    assert code == 0, err
    for (name, source, _), fixture in zip(corpora[1:], FIXTURES, strict=True):
        document = tmp_path / "out" / f"{name}.en-pt.tiny.doc{fixture.suffix}"
        assert document.is_file(), sorted(p.name for p in (tmp_path / "out").iterdir())
        _assert_same_structure(Path(source), document, exact=False)
    results = json.loads((tmp_path / "out" / "scores.json").read_text(encoding="utf-8"))
    notes = next(task for task in results["results"] if task["corpus"] == "notes")
    assert notes["inline"]["terms_matched"] == 1
    assert (tmp_path / "out" / "notes.en-pt.tiny.doc.txt").read_text(encoding="utf-8").count("jipe-robô") == 1
