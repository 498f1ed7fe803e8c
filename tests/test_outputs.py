"""Names from a job file become output file names: they stay inside the output folder.

Every case goes through ``mtpipe run``: exit 1, a one-line ``error:`` naming the
value, and nothing written. The systems point at a model folder that does not
exist, so an error about the model would show that the names were not checked first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.outputs import NAME_MAX, SUFFIXES
from tests.helpers.tinymodels import build_marian

NO_MODEL = "/nonexistent/model-folder"


def _job(tmp_path: Path, corpora: list[str], systems: list[str], *, model: str = NO_MODEL, segment: bool = False,
         ) -> Path:
    """A job with corpora and systems of these names (TOML basic strings: escapes such as \\n work)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "src.txt").write_text("Hello world.\nGood morning.\n", encoding="utf-8")
    text = "".join(
        f'[[corpora]]\nname = "{name}"\nsource = "src.txt"\nsrc_lang = "en"\ntgt_langs = ["pt"]\n'
        f"segment = {'true' if segment else 'false'}\n\n"
        for name in corpora
    ) + "".join(f'[[systems]]\nname = "{name}"\nmodel = "{model}"\nmax_length = 4\n\n' for name in systems)
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], job: Path) -> tuple[int, str, str]:
    code = main(["run", str(job)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "corpora, systems, message",
    [
        pytest.param(["../evil"], ["s"], r"corpus name '../evil' contains / \(path separators", id="dot-dot-slash"),
        pytest.param([".."], ["s"], "corpus name '..' names a folder, not a file", id="dot-dot"),
        pytest.param(["a"], ["/etc/passwd"], "system name '/etc/passwd' contains /", id="absolute"),
        pytest.param(["a"], ["..\\\\..\\\\x"], r"system name '..\\\\..\\\\x' contains \\", id="backslash"),
        pytest.param(["a"], ["C:x"], "system name 'C:x' contains :", id="drive"),
        pytest.param(["a\\nb"], ["s"], r"corpus name 'a\\nb' contains control or invisible characters \(U\+000A\)",
                     id="newline"),
        pytest.param(["a"], ["x\\u001b[31m"], r"system name 'x\\x1b\[31m' contains control .* \(U\+001B\)",
                     id="escape"),
        pytest.param(["a"], ["s\\u202Etxt.exe"], r"system name 's\\u202etxt.exe' contains control .* \(U\+202E\)",
                     id="bidi-override"),
        pytest.param([".hidden"], ["s"], "corpus name '.hidden' starts with a dot, which hides a file",
                     id="leading-dot"),
        pytest.param(["  "], ["s"], "corpus name '  ' is empty", id="blank"),
        pytest.param(["NUL"], ["s"], "corpus name 'NUL' starts with a name Windows reserves", id="device"),
        pytest.param(["a" * 300], ["s"],
                     r"corpus name 'a{60}'\.\.\. \(300 characters\) is too long: "
                     r"its output file names reach 318 bytes, over the limit of 241 \(255 bytes per file name",
                     id="300-characters"),
        pytest.param(["a"], ["é" * 150],
                     r"system name 'é{60}'\.\.\. \(150 characters\) is too long: "
                     r"its output file names reach 318 bytes",
                     id="300-bytes"),
        pytest.param(["a.en-pt.b", "a"], ["c", "b.en-pt.c"],
                     "corpus 'a.en-pt.b' with system 'c' and corpus 'a' with system 'b.en-pt.c' would write the same "
                     "file 'a.en-pt.b.en-pt.c.txt'",
                     id="stem-pattern"),
        pytest.param(["Article", "article"], ["s"],
                     "corpus 'Article' with system 's' and corpus 'article' with system 's' would write "
                     r"'Article.en-pt.s.txt' and 'article.en-pt.s.txt', "
                     "one file where case or Unicode normalisation is ignored",
                     id="case"),
        pytest.param(["a"], ["caf\\u00e9", "cafe\\u0301"],
                     r".* would write 'a.en-pt.caf\\xe9.txt' and 'a.en-pt.cafe\\u0301.txt', one file where case",
                     id="unicode-normalisation"),
    ],
)
def test_run_refuses_a_name_that_is_not_a_safe_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], corpora: list[str], systems: list[str], message: str
) -> None:
    import re

    job = _job(tmp_path, corpora, systems)
    code, out, err = _run(capsys, job)
    assert code == 1
    lines = err.splitlines()
    assert re.match(rf"error: job\.toml: {message}", lines[0]), lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.toml", "src.txt"], "nothing may be written"


def test_a_document_output_colliding_with_another_systems_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A segmented corpus also writes <stem>.doc.txt, which system "b.doc" would write as its <stem>.txt.
    code, _, err = _run(capsys, _job(tmp_path, ["art"], ["b", "b.doc"], segment=True))
    assert code == 1
    assert err.splitlines()[0] == ("error: job.toml: corpus 'art' with system 'b' and corpus 'art' with system 'b.doc' "
                                   "would write the same file 'art.en-pt.b.doc.txt'")
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def tiny_en_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_marian(tmp_path_factory.mktemp("models") / "tiny-en-pt", source_lang="en", target_lang="pt")


def test_the_longest_allowed_name_runs_and_one_byte_more_is_refused(
    tmp_path: Path, tiny_en_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Byte counts, not characters; and each output's temporary file (".<name>.XXXXXXXX.tmp") must fit too."""
    longest_suffix = max(SUFFIXES, key=len)
    room = NAME_MAX - len(".") - len(".XXXXXXXX.tmp") - len(".en-pt.s") - len(longest_suffix)
    corpus = "é" * (room // 2) + "a" * (room % 2)  # two bytes per é
    assert len(corpus.encode("utf-8")) == room

    code, _, err = _run(capsys, _job(tmp_path / "ok", [corpus], ["s"], model=str(tiny_en_pt)))
    assert code == 0, err
    runs = tmp_path / "ok" / "runs" / "job"
    meta = runs / f"{corpus}.en-pt.s.meta.json"
    assert len(meta.name.encode("utf-8")) == NAME_MAX - len(".") - len(".XXXXXXXX.tmp")
    assert "identity" in json.loads(meta.read_text(encoding="utf-8"))
    assert len((runs / f"{corpus}.en-pt.s.txt").read_text(encoding="utf-8").splitlines()) == 2

    code, _, err = _run(capsys, _job(tmp_path / "long", [corpus + "a"], ["s"], model=str(tiny_en_pt)))
    assert code == 1
    assert f"its output file names reach {NAME_MAX - 13} bytes, over the limit of {NAME_MAX - 14}" in err
    assert not (tmp_path / "long" / "runs").exists()


@pytest.mark.parametrize("name", ["flores.v2", "notícias 2024", "opus-mt_en-pt", "a..b", "中文"])
def test_ordinary_names_are_accepted(tmp_path: Path, name: str) -> None:
    from pipeline.config import load_config

    config = load_config(_job(tmp_path, [name], [name]))
    assert (config.corpora[0].name, config.systems[0].name) == (name, name)
