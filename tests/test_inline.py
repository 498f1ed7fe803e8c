"""pipeline.inline: tags, protected text and terms carried onto a translation by a word alignment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats import Tag, Unit
from pipeline.inline import AUTO_ID, Constraint, auto_keep, from_placeholders, project, to_placeholders
from pipeline.wordalign import WordAlignment, words


def one_hot(source: str, target: str, links: dict[int, int]) -> WordAlignment:
    """An alignment where target word t comes from source word links[t] (others from nothing in particular)."""
    src, tgt = words(source), words(target)
    weights = [[1.0 if links.get(t) == s else 0.0 for s in range(len(src))] for t in range(len(tgt))]
    return WordAlignment(src, tgt, weights, target)


def wrapped(text: str, tag: Tag) -> str:
    return text[tag.start : tag.end]


def test_a_pair_tag_follows_its_word_when_the_order_changes() -> None:
    source, target = "a red dress.", "um vestido vermelho."
    alignment = one_hot(source, target, {0: 0, 1: 2, 2: 1, 3: 3})
    result = project(source, [Tag(2, 5, 7)], target, alignment)
    assert [wrapped(result.text, tag) for tag in result.tags] == ["vermelho"]
    assert result.tags[0].id == 7


def test_a_tag_over_a_phrase_wraps_the_aligned_words_but_not_the_full_stop() -> None:
    source, target = "He sleeps on the mat.", "Ele dorme no tapete."
    alignment = one_hot(source, target, {0: 0, 1: 1, 2: 2, 3: 4, 4: 5})
    result = project(source, [Tag(13, 20, 1)], target, alignment)
    assert wrapped(result.text, result.tags[0]) == "tapete"


def test_an_inner_tag_stays_inside_its_outer_tag() -> None:
    source = "the new electric bus"
    target = "o novo ônibus elétrico"
    alignment = one_hot(source, target, {0: 0, 1: 1, 2: 3, 3: 2})
    outer, inner = Tag(4, 20, 1), Tag(8, 16, 2)
    result = project(source, [outer, inner], target, alignment)
    spans = {tag.id: (tag.start, tag.end) for tag in result.tags}
    assert wrapped(result.text, result.tags[0]) == "novo ônibus elétrico"
    assert spans[1][0] <= spans[2][0] <= spans[2][1] <= spans[1][1]
    assert result.text[spans[2][0] : spans[2][1]] == "elétrico"


def test_an_empty_tag_follows_the_word_before_it() -> None:
    source, target = "Monday to Friday, nine to six.", "Segunda a sexta, das nove às seis."
    alignment = one_hot(source, target, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6})
    result = project(source, [Tag(17, 17, 3, "empty")], target, alignment)
    assert result.text[: result.tags[0].start].endswith("sexta,")


def test_protected_text_the_model_kept_is_found_and_wrapped() -> None:
    source, target = "Run pip install now.", "Execute pip install agora."
    tag = Tag(4, 15, 9, "keep")
    constraint = Constraint(4, 15, "pip install", tag=tag)
    result = project(source, [tag], target, one_hot(source, target, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}), [constraint])
    assert result.text == target
    assert result.kept == [constraint] and not result.fixed
    assert wrapped(result.text, result.tags[0]) == "pip install"


def test_protected_text_the_model_changed_is_put_back_and_later_tags_move_with_it() -> None:
    source, target = "Run pip install now, then <b>restart</b>.", "Execute pip instalar agora, depois reinicie."
    source_plain = "Run pip install now, then restart."
    keep, bold = Tag(4, 15, 1, "keep"), Tag(26, 33, 2)
    alignment = one_hot(source_plain, target, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7})
    result = project(source_plain, [keep, bold], target, alignment, [Constraint(4, 15, "pip install", tag=keep)])
    assert result.text == "Execute pip install agora, depois reinicie."
    assert len(result.fixed) == 1
    spans = {tag.id: wrapped(result.text, tag) for tag in result.tags}
    assert spans == {1: "pip install", 2: "reinicie"}
    assert source  # the markup-bearing source, for the reader


def test_a_constraint_with_no_aligned_words_fails_and_is_reported() -> None:
    empty = WordAlignment(words("Hello"), [], [], "")
    result = project("Hello", [], "", empty, [Constraint(0, 5, "Olá", term="Hello")])
    assert result.failed and result.text == ""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param("See https://example.org/a?b=1, then go.", ["https://example.org/a?b=1"], id="url"),
        pytest.param("Write to help@example.org today.", ["help@example.org"], id="email"),
        pytest.param("Unemployment fell to 4.2 in 2024.", ["4.2", "2024"], id="numbers"),
        pytest.param("Hello %s, you have %1$d messages, %(n)s.", ["%s", "%1$d", "%(n)s"], id="printf"),
        pytest.param("The job is 100% done.", ["100"], id="percent-is-not-printf"),
        pytest.param("Hello {name}, {{count}} new.", ["{name}", "{{count}}"], id="braces"),
        pytest.param("Nothing to keep here.", [], id="none"),
    ],
)
def test_auto_keep_finds_what_must_come_through_unchanged(text: str, kept: list[str]) -> None:
    tags = auto_keep(text, ())
    assert [text[t.start : t.end] for t in tags] == kept
    assert all(t.kind == "keep" and t.id >= AUTO_ID for t in tags)


def test_auto_keep_leaves_spans_the_format_already_protects() -> None:
    assert auto_keep("Run `x=1` now", (Tag(4, 9, 0, "keep"),)) == ()


def test_placeholders_round_trip_and_lose_what_the_model_mangles() -> None:
    unit = Unit("The cat sleeps on the mat.", (Tag(0, 7, 5), Tag(14, 14, 7, "empty"), Tag(18, 25, 6)))
    marked = to_placeholders(unit)
    assert marked == "<g0>The cat</g0> sleeps<x1/> on <g2>the mat</g2>."
    text, tags, lost = from_placeholders(marked, unit)
    assert (text, lost) == (unit.text, 0)
    assert sorted(tags, key=lambda t: t.id) == sorted(unit.tags, key=lambda t: t.id)
    text, tags, lost = from_placeholders("O gato/g0> dorme no <g2>tapete</g2>.", unit)
    assert lost == 2 and [wrapped(text, t) for t in tags] == ["tapete"]


def _well_nested(tags: list[Tag], length: int) -> bool:
    pairs = [t for t in tags if t.kind != "empty"]
    for a in pairs:
        for b in pairs:
            if a.start < b.start < a.end < b.end:
                return False
    return all(0 <= t.start <= t.end <= length for t in tags)


@st.composite
def tagged(draw: st.DrawFn) -> tuple[str, list[Tag], str, WordAlignment]:
    n_src = draw(st.integers(1, 8))
    n_tgt = draw(st.integers(0, 8))
    source = " ".join(f"s{i}" for i in range(n_src))
    target = " ".join(f"t{i}" for i in range(n_tgt))
    src_words = words(source)
    tags: list[Tag] = []
    # Properly nested source tags: intervals drawn on word boundaries, kept if they nest with all before.
    for n in range(draw(st.integers(0, 5))):
        a = draw(st.integers(0, n_src - 1))
        b = draw(st.integers(a, n_src - 1))
        kind = draw(st.sampled_from(["pair", "pair", "empty"]))
        start, end = src_words[a][0], src_words[b][1]
        if kind == "empty":
            end = start
        candidate = Tag(start, end, n, kind)
        if all(not (t.start < start < t.end < end or start < t.start < end < t.end) for t in tags):
            tags.append(candidate)
    weights = [[draw(st.floats(0, 1)) for _ in range(n_src)] for _ in range(n_tgt)]
    return source, tags, target, WordAlignment(src_words, words(target), weights, target)


@settings(max_examples=300, deadline=None)
@given(tagged())
def test_every_tag_comes_out_well_nested_whatever_the_alignment(case: tuple) -> None:
    source, tags, target, alignment = case
    result = project(source, tags, target, alignment)
    assert sorted(t.id for t in result.tags) == sorted(t.id for t in tags)
    assert _well_nested(result.tags, len(result.text))
    assert {t.id: t.kind for t in result.tags} == {t.id: t.kind for t in tags}


@settings(max_examples=300, deadline=None)
@given(tagged(), st.data())
def test_protected_text_comes_out_whole_and_nothing_cuts_into_it(case: tuple, data: st.DataObject) -> None:
    source, tags, target, alignment = case
    # Turn some of the pair tags into keep tags (code spans) with their source text to protect.
    keep_ids = {t.id for t in tags if t.kind == "pair" and data.draw(st.booleans())}
    keep_ids = {i for i in keep_ids if not any(o.id != i and o.kind != "empty" and _overlaps(o, tags, i) for o in tags)}
    spans = [(t.start, t.end) for t in tags]
    span_of = {t.id: (t.start, t.end) for t in tags}
    keep_ids = {i for i in keep_ids if spans.count(span_of[i]) == 1}  # formats never protect one span twice
    tags = [Tag(t.start, t.end, t.id, "keep") if t.id in keep_ids else t for t in tags]
    constraints = [Constraint(t.start, t.end, source[t.start : t.end], tag=t) for t in tags if t.kind == "keep"]
    result = project(source, tags, target, alignment, constraints)
    assert _well_nested(result.tags, len(result.text))
    by_id = {t.id: t for t in result.tags}
    for constraint in result.kept + result.fixed:
        placed = by_id[constraint.tag.id]
        assert result.text[placed.start : placed.end] == constraint.target
        for other in result.tags:  # no other tag starts or ends strictly inside it
            assert not placed.start < other.start < placed.end and not placed.start < other.end < placed.end


def _overlaps(other: Tag, tags: list[Tag], keep_id: int) -> bool:
    keep = next(t for t in tags if t.id == keep_id)
    return keep.start <= other.start <= other.end <= keep.end and (other.start, other.end) != (keep.start, keep.end)
