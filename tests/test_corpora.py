"""pipeline.corpora: a corpus and its references, read and checked before any model loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import CorpusConfig
from pipeline.corpora import prepare_corpus
from pipeline.errors import ConfigError, InputError


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_references_are_read_per_target_language(tmp_path: Path) -> None:
    source = write(tmp_path / "src.en", ["One.", "Two.", "Three."])
    pt = (write(tmp_path / "a.pt", ["Um.", "Dois.", "Três."]), write(tmp_path / "b.pt", ["Uma.", "Duas.", "Três!"]))
    de = (write(tmp_path / "a.de", ["Eins.", "Zwei.", "Drei."]),)
    config = CorpusConfig(name="news", source=source, src_lang="en", references={"pt-BR": pt, "de": de},
                          tgt_langs=("pt-BR", "de"))
    corpus = prepare_corpus(config)
    assert corpus.segments == ["One.", "Two.", "Three."]
    assert corpus.references == {
        "pt-BR": [["Um.", "Dois.", "Três."], ["Uma.", "Duas.", "Três!"]],
        "de": [["Eins.", "Zwei.", "Drei."]],
    }
    assert corpus.paragraph_ids is None and corpus.document is None
    assert corpus.ids() == ["news:1", "news:2", "news:3"]


def test_a_missing_reference_file_is_an_input_error(tmp_path: Path) -> None:
    source = write(tmp_path / "src.en", ["One."])
    missing = tmp_path / "nowhere.pt"
    config = CorpusConfig(name="news", source=source, src_lang="en", references={"pt": (missing,)}, tgt_langs=("pt",))
    with pytest.raises(InputError, match=f"file not found: .*{re.escape(missing.name)}"):
        prepare_corpus(config)


def test_a_reference_of_another_length_is_an_input_error(tmp_path: Path) -> None:
    source = write(tmp_path / "src.en", ["One.", "Two."])
    ref = write(tmp_path / "ref.pt", ["Um."])
    config = CorpusConfig(name="news", source=source, src_lang="en", references={"pt": (ref,)}, tgt_langs=("pt",))
    with pytest.raises(InputError, match=r"line counts differ: .*src\.en has 2 lines, .*ref\.pt has 1 line"):
        prepare_corpus(config)


def test_a_segmented_document_keeps_its_paragraphs(tmp_path: Path) -> None:
    source = tmp_path / "doc.en"
    source.write_text("First one. Second one.\n\nThird one.\n", encoding="utf-8")
    ref = write(tmp_path / "ref.pt", ["Primeira. Segunda.", "Terceira."])  # one line per paragraph
    config = CorpusConfig(name="doc", source=source, src_lang="en", segment=True, references={"pt": (ref,)},
                          tgt_langs=("pt",))
    corpus = prepare_corpus(config)
    assert corpus.segments == ["First one.", "Second one.", "Third one."]
    assert corpus.paragraph_ids == [0, 0, 1]
    assert corpus.document is not None


def test_a_reference_that_cannot_be_aligned_with_a_document_fails_early(tmp_path: Path) -> None:
    source = tmp_path / "doc.en"
    source.write_text("First one. Second one.\n\nThird one.\n", encoding="utf-8")
    ref = write(tmp_path / "ref.pt", ["Primeira.", "Segunda.", "Terceira.", "Quarta."])
    config = CorpusConfig(name="doc", source=source, src_lang="en", segment=True, references={"pt": (ref,)},
                          tgt_langs=("pt",))
    with pytest.raises(InputError, match="3 segments in 2 paragraphs, but the reference has 4 lines"):
        prepare_corpus(config)


@pytest.mark.parametrize(
    ("test_set", "tgt", "message"),
    [
        pytest.param("no-such-set", "de", "sacrebleu has no test set 'no-such-set'", id="unknown test set"),
        pytest.param("wmt14", "qu", "sacrebleu test set wmt14 has no en-qu (has: ", id="unknown pair"),
    ],
)
def test_a_sacrebleu_test_set_is_checked_before_any_download(test_set: str, tgt: str, message: str) -> None:
    config = CorpusConfig(name="wmt", source=None, src_lang="en", tgt_langs=(tgt,), sacrebleu=test_set)
    with pytest.raises(ConfigError, match=re.escape(message)):
        prepare_corpus(config)


def test_lines_picks_a_range_of_a_line_corpus_and_its_references(tmp_path: Path) -> None:
    source = write(tmp_path / "src.en", ["One.", "Two.", "Three.", "Four."])
    ref = write(tmp_path / "ref.pt", ["Um.", "Dois.", "Três.", "Quatro."])
    config = CorpusConfig(name="half", source=source, src_lang="en", references={"pt-BR": (ref,)},
                          tgt_langs=("pt-BR",), lines=(3, 4))
    corpus = prepare_corpus(config)
    assert corpus.segments == ["Three.", "Four."]
    assert corpus.references == {"pt-BR": [["Três.", "Quatro."]]}
    with pytest.raises(InputError, match=r"lines 3-9 but .*src.en has 4 lines"):
        prepare_corpus(CorpusConfig(name="x", source=source, src_lang="en", tgt_langs=("pt-BR",), lines=(3, 9)))


@pytest.mark.parametrize(
    ("value", "extra", "message"),
    [
        pytest.param([0, 3], {}, r"lines must be \[first, last\]", id="zero"),
        pytest.param([5, 3], {}, r"lines must be \[first, last\]", id="backwards"),
        pytest.param([1, 2, 3], {}, r"lines must be \[first, last\]", id="three"),
        pytest.param([1, 3], {"segment": True}, r"lines picks lines of a plain line corpus", id="document"),
    ],
)
def test_a_bad_line_range_is_refused(tmp_path: Path, value: list[int], extra: dict, message: str) -> None:
    from pipeline.config import parse_config

    corpus = {"name": "c", "source": "a.txt", "src_lang": "en", "tgt_langs": ["pt"], "lines": value, **extra}
    with pytest.raises(ConfigError, match=message):
        parse_config({"corpora": [corpus], "systems": [{"name": "s", "model": "bergamot-en-pt"}]}, tmp_path / "j.toml")
