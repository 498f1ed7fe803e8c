"""pipeline.glossary: reading the TSV and finding its terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.glossary import Glossary, read_glossary


def test_entries_are_source_target_pairs_or_terms_to_keep(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_text("# product names\nPerseverance\nrover\tjipe-robô\n\ncity council\tcâmara municipal\n",
                    encoding="utf-8")
    glossary = read_glossary(path)
    assert glossary.entries == (("Perseverance", None), ("rover", "jipe-robô"), ("city council", "câmara municipal"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("a\tb\tc\n", r"g.tsv:1: 3 columns", id="three-columns"),
        pytest.param("\tb\n", r"g.tsv:1: the source term is empty", id="empty-term"),
        pytest.param("cat\tgato\nCat\tfelino\n", r"g.tsv:2: 'Cat' is given twice", id="conflict"),
        pytest.param("# only a comment\n", r"g.tsv: no terms", id="empty"),
    ],
)
def test_a_bad_glossary_is_refused_with_its_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "g.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_glossary(path)


def test_a_missing_or_binary_glossary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"glossary .*nope.tsv: no such file"):
        read_glossary(tmp_path / "nope.tsv")
    (tmp_path / "bin.tsv").write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match=r"not UTF-8"):
        read_glossary(tmp_path / "bin.tsv")


def test_terms_match_whole_words_case_insensitively_longest_first() -> None:
    glossary = Glossary((("council", "conselho"), ("city council", "câmara municipal"), ("Mars", None)))
    text = "The City Council of Marseille met on Mars; the council agreed."
    found = [(text[c.start : c.end], c.target) for c in glossary.constraints(text)]
    assert found == [("City Council", "câmara municipal"), ("Mars", "Mars"), ("council", "conselho")]
