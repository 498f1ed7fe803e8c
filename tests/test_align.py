"""Tests for pipeline.align: line counts checked, documents paired with references by segment or by paragraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.align import align_document, check_alignment
from pipeline.errors import InputError
from pipeline.evaluate import score_corpus

DATA = Path(__file__).parent / "data"
CORPORA = Path(__file__).parent.parent / "corpora"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --------------------------------------------------------------------------
# Line counts
# --------------------------------------------------------------------------


def test_check_alignment_names_files_and_counts() -> None:
    message = r"line counts differ: hyp\.pt\.txt has 3 lines, ref2\.pt\.txt has 2 lines"
    with pytest.raises(InputError, match=message) as info:
        check_alignment(
            ["a", "b", "c"], [["a", "b", "c"], ["a", "b"]], names=["hyp.pt.txt", "ref1.pt.txt", "ref2.pt.txt"]
        )
    assert "one line per hypothesis line" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("hyps", "refs", "message"),
    [
        pytest.param(
            ["a"], [["a", "b"]], r"line counts differ: the hypotheses has 1 line, reference 1 has 2 lines",
            id="default-names",
        ),
        pytest.param([], [[]], "the hypotheses has no lines to score", id="no-hypotheses"),
        pytest.param(["a"], [], "no references to score the hypotheses against", id="no-references"),
        pytest.param(["a"], ["a"], "references must be a list of streams", id="flat-references"),
    ],
)
def test_check_alignment_errors(hyps: list[str], refs: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_alignment(hyps, refs)


# --------------------------------------------------------------------------
# Paragraph-level fallback
# --------------------------------------------------------------------------

# A document of 3 paragraphs cut into 5 segments: [0, 0, 1, 2, 2].
HYPS = ["Um.", "Dois.", "Três.", "Quatro.", "Cinco."]
IDS = [0, 0, 1, 2, 2]
PARAGRAPHS = ["Um. Dois.", "Três.", "Quatro. Cinco."]


def test_align_segment_level() -> None:
    alignment = align_document(HYPS, IDS, [HYPS, list("abcde")])
    assert alignment.level == "segment"
    assert alignment.hypotheses == HYPS
    assert alignment.references == [HYPS, list("abcde")]
    assert alignment.note == ""


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param(["Um. Dois.", "", "Três.", "", "Quatro.", "Cinco."], PARAGRAPHS, id="blank-lines"),
        pytest.param(["", "Um.", "Dois.", "", "", "Três.", "  ", "Quatro. Cinco.", ""], PARAGRAPHS, id="blank-runs"),
        pytest.param(["Um. Dois.", "Três.", "Quatro. Cinco."], PARAGRAPHS, id="line-per-paragraph"),
    ],
)
def test_align_paragraph_level(reference: list[str], expected: list[str]) -> None:
    alignment = align_document(HYPS, IDS, [reference])
    assert alignment.level == "paragraph"
    assert alignment.hypotheses == ["Um. Dois.", "Três.", "Quatro. Cinco."]
    assert alignment.references == [expected]
    assert alignment.note.startswith("scored at paragraph level (3 paragraphs)")
    assert "5 segments" in alignment.note


def test_align_paragraph_level_cjk_joins_without_spaces() -> None:
    hyps = ["你好。", "世界！", "再见。"]
    ref = ["你好。世界！", "", "", "再见。"]
    for tgt in ("zh-Hans", None):  # given, or guessed from the reference text
        alignment = align_document(hyps, [0, 0, 1], [ref], tgt_lang=tgt)
        assert alignment.hypotheses == ["你好。世界！", "再见。"]
        assert alignment.references == [["你好。世界！", "再见。"]]


def test_align_reference_per_segment_next_to_one_per_paragraph() -> None:
    alignment = align_document(HYPS, IDS, [list("abcde"), ["x", "y", "z"]])
    assert alignment.level == "paragraph"
    assert alignment.references == [["a b", "c", "d e"], ["x", "y", "z"]]
    assert "reference 1: one line per segment, joined by paragraph" in alignment.note


def test_align_multiple_references_mixed_layouts() -> None:
    alignment = align_document(HYPS, IDS, [["Um. Dois.", "Três.", "Quatro. Cinco."], ["a", "b", "", "c", "", "d"]])
    assert alignment.level == "paragraph"
    assert alignment.references == [["Um. Dois.", "Três.", "Quatro. Cinco."], ["a b", "c", "d"]]
    assert "reference 1: one line per paragraph; reference 2: 3 blank-line-separated paragraphs" in alignment.note


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        pytest.param(
            [["a", "b", "c", "d"]],
            r"cannot align the document with the reference: 5 segments in 3 paragraphs, but the reference has 4 lines",
            id="wrong-count",
        ),
        pytest.param(
            [["a", "", "b"]],
            r"5 segments in 3 paragraphs, but the reference has 3 lines in 2 blank-line-separated paragraphs",
            id="wrong-paragraphs",
        ),
        pytest.param([], "no reference streams", id="no-references"),
    ],
)
def test_align_errors(refs: list[list[str]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        align_document(HYPS, IDS, refs)


def test_align_wrong_count_hint() -> None:
    with pytest.raises(InputError) as info:
        align_document(HYPS, IDS, [["a", "b", "c", "d"]])
    assert info.value.hint == (
        "give a reference with 5 lines (one per segment), 3 lines (one per paragraph), "
        "or paragraphs separated by blank lines"
    )


def test_align_ids_must_match_hypotheses() -> None:
    with pytest.raises(InputError, match="got 5 hypotheses but 4 paragraph ids"):
        align_document(HYPS, IDS[:-1], [HYPS])


def test_article_reference_aligns_by_segment_and_by_paragraph() -> None:
    from pipeline.segment import Segmenter

    reference = _lines(CORPORA / "automated-translation-article.pt-BR.txt")
    document = Segmenter("en").segment((DATA / "article.en.txt").read_text(encoding="utf-8"))
    assert len(reference) == len(document.segments) == 19
    # Segment level: the reference has one line per natural segment.
    alignment = align_document(reference, document.paragraph_ids, [reference])
    assert alignment.level == "segment"
    # Paragraph level: the same reference laid out as a document with blank lines.
    as_document = []
    for n, (line, paragraph) in enumerate(zip(reference, document.paragraph_ids, strict=True)):
        if n and paragraph != document.paragraph_ids[n - 1]:
            as_document.append("")
        as_document.append(line)
    hyps = reference[:6] + [reference[6] + " " + reference[7]] + reference[8:]  # a system that segmented differently
    ids = document.paragraph_ids[:7] + document.paragraph_ids[8:]
    alignment = align_document(hyps, ids, [as_document], tgt_lang="pt-BR")
    assert alignment.level == "paragraph"
    assert len(alignment.hypotheses) == len(alignment.references[0]) == 14
    bleu = score_corpus(alignment.hypotheses, alignment.references, "pt-BR", metrics=("bleu",))["bleu"]
    assert bleu.score == pytest.approx(100)
