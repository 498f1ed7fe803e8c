"""Inline tags through the embedded en->pt model, judged on the hand-made set (tests/data/tags)."""

from __future__ import annotations

import pytest

from tests.helpers.tagset import TAGSET, load, score, translate_with_alignment


def test_the_tag_set_is_well_formed() -> None:
    cases = load(TAGSET)
    assert len(cases) >= 50
    for case in cases:
        assert len(case.expected) == len(case.unit.tags), case.id
        assert all(case.expected[tag.id] for tag in case.unit.tags), case.id
        for tag in case.unit.tags:
            if case.names[tag.id] == "code":  # code is never translated: its one answer is itself
                assert case.expected[tag.id] == [case.unit.text[tag.start : tag.end]], case.id


@pytest.mark.slow
def test_the_embedded_model_keeps_every_tag_and_puts_85_percent_on_the_right_words() -> None:
    from pipeline.translate import Translator

    cases = load(TAGSET)
    units = translate_with_alignment(Translator("bergamot-en-pt", workers=1), cases)
    kept, right, wrong = score(cases, units)
    total = sum(len(case.unit.tags) for case in cases)
    assert kept == total, wrong
    assert right / total >= 0.85, f"{right}/{total} on the right words:\n" + "\n".join(wrong)
