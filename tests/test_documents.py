"""pipeline.documents: units cut into sentences, translations put back with their tags and terms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.documents import prepare
from pipeline.errors import InputError
from pipeline.formats import Document, FormatOptions, Tag, Unit, read_document
from pipeline.glossary import Glossary
from pipeline.wordalign import DiagonalAligner, WordAlignment, words


class Monotonic:
    """Aligns word i with word i (the tests' translations keep the word order)."""

    name = "monotonic"

    def align(self, sources, targets):  # noqa: ANN001, ANN201
        out = []
        for source, target in zip(sources, targets, strict=True):
            src, tgt = words(source), words(target)
            out.append(WordAlignment(src, tgt, [[1.0 if s == min(t, len(src) - 1) else 0.0 for s in range(len(src))]
                                                for t in range(len(tgt))], target))
        return out


def test_units_are_cut_into_sentences_and_joined_again() -> None:
    document = Document("text", "x", [Unit("First one. Second one."), Unit("Alone.")])
    prepared = prepare(document, "en")
    assert prepared.texts == ["First one.", "Second one.", "Alone."]
    assert prepared.paragraph_ids == [0, 0, 1]
    units, _ = prepared.translated_units(["Primeira.", "Segunda.", "Só."], tgt_lang="pt")
    assert [unit.text for unit in units] == ["Primeira. Segunda.", "Só."]


def test_sentences_that_a_tag_spans_stay_one_piece() -> None:
    text = "It rained. It <b>poured. Then</b> it stopped. Done."
    plain = "It rained. It poured. Then it stopped. Done."
    document = Document("text", "x", [Unit(plain, (Tag(14, 26, 0),))])
    assert text  # the markup the unit stands for
    prepared = prepare(document, "en")
    assert prepared.texts == ["It rained.", "It poured. Then it stopped.", "Done."]
    assert prepared.pieces[1].tags[0] == Tag(3, 15, 0)


def test_tags_move_into_the_translation_and_the_pipelines_own_keep_spans_do_not_leak() -> None:
    unit = Unit("Visit the site at https://x.org today.", (Tag(6, 14, 4),))
    prepared = prepare(Document("text", "x", [unit]), "en")
    (out,), stats = prepared.translated_units(["Visite o site em https://x.org hoje."], aligner=Monotonic())
    assert [(tag.id, out.text[tag.start : tag.end]) for tag in out.tags] == [(4, "o site")]
    assert stats.tags == 1 and stats.protected == 1 and stats.protected_fixed == 0


def test_a_changed_url_is_put_back() -> None:
    prepared = prepare(Document("text", "x", [Unit("Go to https://x.org now.")]), "en")
    (out,), stats = prepared.translated_units(["Vá para https://x.com agora."], aligner=Monotonic())
    assert "https://x.org" in out.text and "x.com" not in out.text
    assert stats.protected_fixed == 1


def test_a_tag_between_sentences_keeps_its_place() -> None:
    unit = Unit("One. Two.", (Tag(4, 4, 1, "empty"),))  # a <br> right after the first sentence
    prepared = prepare(Document("text", "x", [unit]), "en")
    (out,), _ = prepared.translated_units(["Um.", "Dois."], tgt_lang="pt")
    assert out.text == "Um. Dois." and out.tags == (Tag(3, 3, 1, "empty"),)


def test_sentences_of_an_unspaced_target_are_joined_without_a_space() -> None:
    prepared = prepare(Document("text", "x", [Unit("One. Two.")]), "en")
    (out,), _ = prepared.translated_units(["一。", "二。"], tgt_lang="zh")
    assert out.text == "一。二。"


def test_glossary_terms_are_enforced_and_counted() -> None:
    glossary = Glossary((("rover", "jipe-robô"), ("Perseverance", None), ("Mars", "Marte")))
    prepared = prepare(Document("text", "x", [Unit("The rover Perseverance landed on Mars.")]), "en",
                       glossary=glossary)
    (out,), stats = prepared.translated_units(["O rover Perseverança pousou em Marte."], aligner=Monotonic())
    assert out.text == "O jipe-robô Perseverance pousou em Marte."
    assert (stats.terms_matched, stats.terms_fixed, stats.terms_violated) == (3, 2, 0)


def test_the_number_of_translations_is_checked() -> None:
    prepared = prepare(Document("text", "doc.md", [Unit("One.")]), "en")
    with pytest.raises(InputError, match=r"doc.md: 2 translations for 1 pieces"):
        prepared.render(["a", "b"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab .\n\t", max_size=30), max_size=6))
def test_an_identity_translation_gives_the_text_file_back_byte_for_byte(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8")
    options = FormatOptions()
    document = read_document("x.txt", "text", options, data=data)
    prepared = prepare(document, "en", options=options)
    assert prepared.render(prepared.texts, aligner=DiagonalAligner()) == data
