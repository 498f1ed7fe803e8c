"""pipeline.wordalign: word alignment from the model's cross-attention, checked on real models."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.wordalign import AttentionAligner, DiagonalAligner, aligner_for, words

DIRECTIONS = {"bergamot": ("en", "pt"), "marian": ("en", "de"), "nllb": ("en", "pt"), "m2m100": ("en", "pt"),
              "mbart": ("en", "pt"), "t5": ("en", "de"), "madlad": ("en", "pt")}


def test_words_are_runs_of_letters_or_single_punctuation_marks() -> None:
    text = "Don't stop: the well-known café, 4.2%!"
    assert [text[a:b] for a, b in words(text)] == ["Don't", "stop", ":", "the", "well-known", "café", ",", "4",
                                                   ".", "2", "%", "!"]


@pytest.mark.parametrize("kind", list(DIRECTIONS))
def test_every_family_gives_an_attention_alignment(kind: str, tiny_translator: Callable[[str], object]) -> None:
    # transformers 5 returns no attention weights from sdpa: the aligner must switch to eager for its pass
    # and back, and read cross_attentions from the real model output.
    translator = tiny_translator(kind)
    src, tgt = DIRECTIONS[kind]
    translator.check_direction(src, tgt)
    aligner = aligner_for(translator, src, tgt)
    assert isinstance(aligner, AttentionAligner)
    before = getattr(translator.loaded.model.config, "_attn_implementation", None)
    (alignment,) = aligner.align(["The cat sleeps on the mat."], ["O gato dorme no tapete."])
    assert getattr(translator.loaded.model.config, "_attn_implementation", None) == before
    assert len(alignment.source_words) == 7 and len(alignment.target_words) == 6
    assert all(len(row) == 7 for row in alignment.weights)
    assert sum(map(sum, alignment.weights)) > 0  # attention mass reached the words
    assert all(alignment.source_of(t) in range(7) for t in range(6))


def test_the_native_engine_gets_the_diagonal_fallback() -> None:
    class Native:  # what pipeline.backends.native.NativeTranslator offers: no generator
        pass

    assert isinstance(aligner_for(Native(), "en", "pt"), DiagonalAligner)


def test_the_diagonal_aligner_is_monotonic() -> None:
    (alignment,) = DiagonalAligner().align(["a b c d"], ["w x y z"])
    assert [alignment.source_of(t) for t in range(4)] == [0, 1, 2, 3]


@pytest.mark.slow
def test_the_embedded_model_aligns_words_with_their_translations() -> None:
    from pipeline.translate import Translator

    translator = Translator("bergamot-en-pt", workers=1)
    source = "The cat sleeps on the mat."
    (target,) = translator.translate([source], "en", "pt-BR")
    assert target.startswith("O gato")
    (alignment,) = aligner_for(translator, "en", "pt-BR").align([source], [target])
    src_word = {target[a:b]: source[slice(*alignment.source_words[alignment.source_of(t)])]
                for t, (a, b) in enumerate(alignment.target_words)}
    assert src_word["gato"] == "cat"
    assert src_word["dorme"] == "sleeps"
