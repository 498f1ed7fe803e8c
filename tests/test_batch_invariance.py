"""A segment's translation does not depend on its batch neighbours, for every family.

The Bergamot models restrict the output layer to a lexical shortlist. Marian
gives a batch the union of its sentences' shortlists; here each sentence keeps
its own, so batching, sorting and padding change nothing but speed.
"""

from __future__ import annotations

import pytest
import torch

from pipeline.models.bergamot.shortlist_layer import (
    ShortlistLayer,
    shortlist_blocked,
    shortlist_columns,
)
from pipeline.translate import Translator
from tests.helpers import tinymodels

LINES = tinymodels.corpus_lines(per_language=12)[:60]


@pytest.fixture(scope="module")
def tiny_bergamot(tiny_model):
    return Translator(str(tiny_model("bergamot")), max_length=12)


@pytest.mark.parametrize("beam", [1, 3], ids=["greedy", "beam3"])
def test_a_bergamot_segment_translates_alone_as_in_a_batch(tiny_bergamot, beam: int) -> None:
    translator = Translator(tiny_bergamot.name, beam=beam, max_length=12)
    lines = LINES[:24] if beam > 1 else LINES
    together = translator.translate(lines, "en", "pt")
    alone = [translator.translate([line], "en", "pt")[0] for line in lines]
    assert all(together)
    assert together == alone


def test_a_bergamot_corpus_given_twice_translates_the_same_twice(tiny_bergamot) -> None:
    # Reversed the second time: every line meets other neighbours, in other batches.
    lines = LINES + LINES[::-1]
    out = tiny_bergamot.translate(lines, "en", "pt")
    n = len(LINES)
    assert out[:n] == out[n:][::-1]
    # The shortlist decides much of what this model can say: the test could tell a batch union.
    batch = tiny_bergamot.info.tokenizer(LINES[:8], return_tensors="pt", padding=True)
    layer = tiny_bergamot.loaded.model.model.encoder.shortlist
    allowed = ~shortlist_blocked(layer(batch["input_ids"], batch["attention_mask"]))
    assert (allowed.sum(dim=1) < allowed.shape[1]).all()


@pytest.mark.parametrize("kind", ["marian", "nllb", "m2m100", "mbart", "t5"])
def test_other_families_translate_alone_as_in_a_batch(kind: str, tiny_model) -> None:
    translator = Translator(str(tiny_model(kind)), max_length=8, batch_tokens=256)
    src, tgt = ("en", "de") if kind in ("marian", "t5") else ("en", "pt")
    lines = LINES[:30]
    together = translator.translate(lines, src, tgt)
    assert together == [translator.translate([line], src, tgt)[0] for line in lines]


def test_each_row_gets_exactly_its_own_shortlist(tiny_bergamot) -> None:
    layer: ShortlistLayer = tiny_bergamot.loaded.model.model.encoder.shortlist
    tokenizer = tiny_bergamot.info.tokenizer
    batch = tokenizer(LINES[:5], return_tensors="pt", padding=True)
    shortlist = layer(batch["input_ids"], batch["attention_mask"])
    columns = shortlist_columns(shortlist)
    for row, line in enumerate(LINES[:5]):
        alone = layer(torch.tensor([tokenizer(line)["input_ids"]]))
        own = columns[~shortlist_blocked(shortlist)[row]]
        assert own.tolist() == alone[0].tolist()
        assert len(own) % 8 == 0
    assert columns.tolist() == sorted(set().union(*(set(r[r >= 0].tolist()) for r in shortlist)))


FLORES = tinymodels.FLORES


@pytest.mark.slow
@pytest.mark.parametrize(
    ("direction", "beam", "count"),
    [pytest.param("en-pt", 1, 200, id="en-pt-greedy"), pytest.param("pt-en", 1, 200, id="pt-en-greedy"),
     pytest.param("en-pt", 4, 40, id="en-pt-beam4")],
)
def test_the_embedded_models_translate_flores_alone_as_in_a_job(direction: str, beam: int, count: int) -> None:
    # The full devtest, with the cache, resume and the ray engine too: benchmarks/batch_invariance.py.
    src, tgt = direction.split("-")
    source = {"en": "eng_Latn", "pt": "por_Latn"}[src]
    lines = (FLORES / f"{source}.devtest").read_text(encoding="utf-8").splitlines()[:count]
    translator = Translator(f"bergamot-{direction}", beam=beam)
    # Given twice, reversed the second time: other neighbours, other batches.
    twice = translator.translate(lines + lines[::-1], src, tgt)
    assert twice[:count] == twice[count:][::-1]
    alone = [translator.translate([line], src, tgt)[0] for line in lines]
    assert twice[:count] == alone
