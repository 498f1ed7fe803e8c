"""Tests for pipeline.segment: golden files, measured floors, the per-language choice, layout, properties."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.batching import SENTENCE_WINDOW, split_long
from pipeline.errors import ConfigError, InputError, LanguageError
from pipeline.segment import (
    AUTO_BACKEND,
    BACKEND_CHOICES,
    BACKENDS,
    DEFAULT_BACKEND,
    FALLBACK_BACKEND,
    LANGUAGE_BACKENDS,
    Document,
    Segmenter,
    backend_for,
)

DATA = Path(__file__).parent / "data"
FLORES = Path(__file__).parent.parent / "corpora" / "flores200-devtest"
ARTICLE = DATA / "article.en.txt"
ARTICLE_GOLD = DATA / "article.en.segments.txt"


def _nonspace(text: str) -> str:
    return "".join(text.split())


def _load_samples(lang: str) -> list[list[str]]:
    """Blocks of gold sentences, one paragraph each (format: see the files' headers)."""
    text = (DATA / "multilingual" / f"{lang}.txt").read_text(encoding="utf-8")
    lines = [line for line in text.split("\n") if not line.startswith("#")]
    return [block.split("\n") for block in "\n".join(lines).strip().split("\n\n")]


@pytest.fixture(scope="module")
def segmenters() -> dict[str, Segmenter]:
    return {name: Segmenter("en", name) for name in BACKEND_CHOICES}


# --------------------------------------------------------------------------
# The article: 19 natural segments, byte for byte
# --------------------------------------------------------------------------


def test_article_copy_is_the_corpus() -> None:
    corpus = Path(__file__).parent.parent / "corpora" / "automated-translation-article.en.txt"
    assert ARTICLE.read_bytes() == corpus.read_bytes()


@pytest.mark.parametrize("backend", BACKEND_CHOICES)
def test_article_golden_segments(segmenters: dict[str, Segmenter], backend: str) -> None:
    document = segmenters[backend].segment(ARTICLE.read_text(encoding="utf-8"))
    assert "".join(t + "\n" for t in document.texts) == ARTICLE_GOLD.read_text(encoding="utf-8")


def test_article_default_backend_positions() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    document = Segmenter("en").segment(text)
    assert len(document.segments) == 19
    assert document.paragraph_count == 14
    # 3 headlines, then sentences; paragraphs 3, 8, 9, 10 hold 2, 2, 3, 2 sentences.
    assert document.paragraph_ids == [0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 11, 12, 12, 12, 13, 13]
    for segment in document.segments:
        assert text[segment.start : segment.end] == segment.text
    assert [s.sentence for s in document.segments if s.paragraph == 12] == [0, 1, 2]


def test_article_rebuild_keeps_layout() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    document = Segmenter("en").segment(text)
    assert document.rebuild(document.texts) == text
    assert document.rebuild([t.upper() for t in document.texts]) == text.upper()


# --------------------------------------------------------------------------
# Golden Rules: floors measured by benchmarks/segmenters.py, failures pinned
# --------------------------------------------------------------------------

GOLDEN_RULES = json.loads((DATA / "golden_rules_en.json").read_text(encoding="utf-8"))["cases"]
# Measured in docs/segmentation.md. If a library upgrade fixes a case, update these.
KNOWN_GOLDEN_RULE_FAILURES = {
    "sentencex": {35, 36, 38, 39, 48},  # numbered/lettered list items; ". . ." ellipsis before a sentence
    "pysbd": {18},  # "6 P.M. Mr. Smith": an abbreviation that ends a sentence
    "auto": {18},  # pysbd, chosen for English
}
# The bar of issue 11: the English default gets at least 47 of the 48 cases.
GOLDEN_RULES_FLOOR = {"sentencex": 43, "pysbd": 47, "auto": 47}


@pytest.mark.parametrize("backend", BACKEND_CHOICES)
def test_golden_rules_floor(segmenters: dict[str, Segmenter], backend: str) -> None:
    failed = {
        case["id"] for case in GOLDEN_RULES if segmenters[backend].segment(case["text"]).texts != case["sentences"]
    }
    assert len(GOLDEN_RULES) == 48
    assert failed == KNOWN_GOLDEN_RULE_FAILURES[backend]
    assert len(GOLDEN_RULES) - len(failed) >= GOLDEN_RULES_FLOOR[backend]


def test_golden_rules_english_default_meets_the_bar() -> None:
    segmenter = Segmenter("en")
    passed = sum(segmenter.segment(case["text"]).texts == case["sentences"] for case in GOLDEN_RULES)
    assert passed >= 47


# --------------------------------------------------------------------------
# Multilingual samples (default backend); known failures are strict xfails
# --------------------------------------------------------------------------

# (language, block number from 0) -> why the default backend gets it wrong.
KNOWN_SAMPLE_FAILURES = {
    ("pt", 2): "splits after 'Co.' (Hokuriku Electric Power Co. relatou ...)",
    ("pt", 4): "splits after 'Av.' and 'p. ex.'",
    ("fr", 3): "splits after 'M.' (Monsieur) at the start of a sentence",
    ("es", 1): "splits after 'p. m.' before 'MDT'",
    ("es", 4): "splits after 'aprox.'",
    ("zh", 4): "splits after a quoted question (“…？”妈妈…问。)",
}


def _sample_cases() -> list[object]:
    cases = []
    for lang in ("pt", "de", "fr", "es", "zh"):
        for number, gold in enumerate(_load_samples(lang)):
            reason = KNOWN_SAMPLE_FAILURES.get((lang, number))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(lang, gold, id=f"{lang}-{number}", marks=marks))
    return cases


@pytest.mark.parametrize(("lang", "gold"), _sample_cases())
def test_multilingual_samples(lang: str, gold: list[str]) -> None:
    paragraph = ("" if lang == "zh" else " ").join(gold)
    assert Segmenter(lang).segment(paragraph).texts == gold


def test_multilingual_samples_use_sentencex() -> None:
    # The strict xfails above are sentencex's misses; the choice must not move under them unseen.
    assert all(Segmenter(lang).backend == "sentencex" for lang in ("pt", "de", "fr", "es", "zh"))


def test_multilingual_samples_are_well_formed() -> None:
    for lang in ("pt", "de", "fr", "es", "zh"):
        blocks = _load_samples(lang)
        assert len(blocks) == 5
        assert all(sentence.strip() == sentence and sentence for block in blocks for sentence in block)


# --------------------------------------------------------------------------
# FLORES-200 devtest, six languages: not worse than before the per-language choice
# --------------------------------------------------------------------------

_FLORES_FILES = {
    "en": "eng_Latn", "pt": "por_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "zh": "zho_Hans"
}
# Measured with sentencex for every language (the default before issue 11) by
# benchmarks/segmenters.py: (lines exactly one segment when 4 lines make a
# paragraph, line boundaries missed there, lines kept whole in the file as it is).
FLORES_BEFORE = {
    "en": (884, 7, 896),
    "pt": (859, 12, 878),
    "de": (809, 27, 848),
    "fr": (878, 4, 880),
    "es": (886, 3, 890),
    "zh": (831, 24, 872),
}
# The default now, where it differs. English (pysbd, for the Golden Rules) loses 2
# exact lines and misses 1 more boundary of 759 with 4-line paragraphs: "1100 A.D. Its",
# a numbered-list split inside "on July 8. One was", and a quote after "..."; it
# gains "(just not one that looks too expensive. Women". See docs/segmentation.md.
FLORES_NOW = {**FLORES_BEFORE, "en": (882, 8, 896)}


def _flores_figures(segmenter: Segmenter, lang: str) -> tuple[int, int, int]:
    path = FLORES / f"{_FLORES_FILES[lang]}.devtest"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    assert len(lines) == 1012
    joiner = "" if lang == "zh" else " "
    exact = missed = 0
    for i in range(0, len(lines), 4):
        group = lines[i : i + 4]
        document = segmenter.segment(joiner.join(group))
        starts = {segment.start for segment in document.segments}
        ends = {segment.end for segment in document.segments}
        position = 0
        for n, line in enumerate(group):
            start, end = position, position + len(line)
            exact += start in starts and end in ends and not any(start < e < end for e in ends)
            missed += n < len(group) - 1 and end not in ends
            position = end + len(joiner)
    whole = segmenter.segment("\n".join(lines))
    per_line = [0] * len(lines)
    for segment in whole.segments:
        per_line[segment.paragraph] += 1
    return exact, missed, per_line.count(1)


@pytest.mark.parametrize("lang", sorted(_FLORES_FILES))
def test_flores_default_backend(lang: str) -> None:
    exact, missed, kept = _flores_figures(Segmenter(lang), lang)
    assert (exact, missed, kept) == FLORES_NOW[lang]
    if lang != "en":  # English: the trade for the Golden Rules, pinned above
        before_exact, before_missed, before_kept = FLORES_BEFORE[lang]
        assert exact >= before_exact and missed <= before_missed and kept >= before_kept
    else:
        assert kept >= FLORES_BEFORE[lang][2]


# --------------------------------------------------------------------------
# The per-language choice
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "backend"),
    [("en", "pysbd"), ("en-GB", "pysbd"), ("eng_Latn", "pysbd"), ("pt-BR", "sentencex"), ("de", "sentencex"),
     ("fr", "sentencex"), ("es", "sentencex"), ("zh-Hans", "sentencex"), ("ja", "sentencex"), ("sw", "sentencex")],
)
def test_backend_for_language(code: str, backend: str) -> None:
    assert backend_for(code) == backend
    segmenter = Segmenter(code)
    assert segmenter.backend == backend
    assert repr(segmenter) == f"Segmenter({segmenter.language.tag!r}, backend={backend!r})"


def test_default_is_auto_and_every_choice_is_registered() -> None:
    assert DEFAULT_BACKEND == AUTO_BACKEND == "auto"
    assert BACKEND_CHOICES == ("auto", *sorted(BACKENDS))
    assert FALLBACK_BACKEND in BACKENDS
    assert set(LANGUAGE_BACKENDS.values()) <= set(BACKENDS)


def test_explicit_backend_overrides_the_choice() -> None:
    text, gold = "1. The first item 2. The second item", ["1. The first item", "2. The second item"]
    assert Segmenter("en").segment(text).texts == gold
    assert Segmenter("en", "sentencex").segment(text).texts != gold  # Golden Rule 35, a sentencex miss


def test_cli_and_config_defaults_follow_the_segmenter() -> None:
    from pipeline.cli_args import build_parser
    from pipeline.config import CorpusConfig

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command")  # type: ignore[union-attr]
    backend = next(a for a in sub.choices["segment"]._actions if a.dest == "backend")
    assert tuple(backend.choices) == BACKEND_CHOICES
    assert backend.default == DEFAULT_BACKEND
    assert "auto" in backend.help
    assert CorpusConfig(name="c", source=None, src_lang="en").segmenter == DEFAULT_BACKEND


def test_cli_segment_uses_the_english_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    document = tmp_path / "list.txt"
    document.write_text("1. The first item 2. The second item\n", encoding="utf-8")
    assert main(["segment", "--lang", "en", str(document)]) == 0
    assert capsys.readouterr().out == "1. The first item\n2. The second item\n"
    assert main(["segment", "--lang", "en", "--backend", "sentencex", str(document)]) == 0
    assert capsys.readouterr().out != "1. The first item\n2. The second item\n"


def test_cli_segment_rejects_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    assert main(["segment", "--lang", "en", "--backend", "spacy"]) == 2
    # Python versions differ on quoting the choices.
    pattern = r"invalid choice: 'spacy' \(choose from '?auto'?, '?pysbd'?, '?sentencex'?\)"
    assert re.search(pattern, capsys.readouterr().err)


def test_pysbd_segmenter_is_safe_across_threads() -> None:
    segmenter = Segmenter("en", "pysbd")
    texts = [case["text"] for case in GOLDEN_RULES]
    expected = [segmenter.segment(text).texts for text in texts]
    results: dict[int, list[list[str]]] = {}

    def work(number: int) -> None:
        results[number] = [segmenter.segment(text).texts for text in texts[number:] + texts[:number]]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for number, got in results.items():
        assert got == expected[number:] + expected[:number]
    assert len(results) == 4


# --------------------------------------------------------------------------
# Layout details
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "texts", "paragraphs"),
    [
        pytest.param("", [], [], id="empty"),
        pytest.param(" \n\t\n  ", [], [], id="blank"),
        pytest.param("One. Two.", ["One.", "Two."], [0, 0], id="one-paragraph"),
        pytest.param("Title\nOne. Two.\n", ["Title", "One.", "Two."], [0, 1, 1], id="headline"),
        pytest.param("\n\n  Hi.\r\n\r\n\tYes.  Fine.\n\n", ["Hi.", "Yes.", "Fine."], [0, 1, 1], id="crlf-indent"),
    ],
)
def test_layout_cases(text: str, texts: list[str], paragraphs: list[int]) -> None:
    document = Segmenter("en").segment(text)
    assert document.texts == texts
    assert document.paragraph_ids == paragraphs
    assert document.rebuild(document.texts) == text


def test_rebuild_replaces_spans_keeps_gaps() -> None:
    document = Segmenter("en").segment("  Title\n\nFirst one.   Second one.\n")
    assert document.rebuild(["Título", "Primeira.", "Segunda."]) == "  Título\n\nPrimeira.   Segunda.\n"


def test_rebuild_flattens_line_breaks_in_translations() -> None:
    document = Segmenter("en").segment("A.\n\nB.")
    assert document.rebuild(["x\ny", "z"]) == "x y\n\nz"


def test_rebuild_spacing_follows_target_language() -> None:
    zh = Segmenter("zh").segment("你好。世界！\n\n再见。")
    assert zh.texts == ["你好。", "世界！", "再见。"]
    assert zh.rebuild(["Hello.", "World!", "Bye."]) == "Hello.World!\n\nBye."
    assert zh.rebuild(["Hello.", "World!", "Bye."], tgt_lang="en") == "Hello. World!\n\nBye."
    en = Segmenter("en").segment("Hello. World!\n\nBye.")
    assert en.rebuild(["你好。", "世界！", "再见。"], tgt_lang="zh-Hans") == "你好。世界！\n\n再见。"
    assert en.rebuild(["Olá.", "Mundo!", "Tchau."], tgt_lang="pt-BR") == "Olá. Mundo!\n\nTchau."


def test_rebuild_wrong_count() -> None:
    document = Segmenter("en").segment("Yes. Fine.")
    with pytest.raises(InputError, match=r"cannot rebuild the document: 1 translations for 2 segments"):
        document.rebuild(["x"])


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_unknown_backend() -> None:
    with pytest.raises(ConfigError, match=r"unknown segmenter backend 'spacy' \(known: auto, pysbd, sentencex\)"):
        Segmenter("en", backend="spacy")


def test_unknown_language() -> None:
    with pytest.raises(LanguageError, match="unknown language code 'xx-bogus'"):
        Segmenter("xx-bogus")


def test_pysbd_unsupported_language_lists_supported() -> None:
    with pytest.raises(
        ConfigError, match=r"'pysbd' does not support language 'pt-BR' \(supported: am, ar, .*, en, .*zh\)"
    ):
        Segmenter("pt-BR", backend="pysbd")


def test_missing_backend_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pysbd", None)  # makes `import pysbd` raise ImportError
    with pytest.raises(ConfigError, match="backend 'pysbd' needs the package 'pysbd', which is not installed") as info:
        Segmenter("en", backend="pysbd")
    assert info.value.hint == "pip install pysbd"
    # The English default needs it too, and says so rather than quietly using another library.
    with pytest.raises(ConfigError, match="backend 'pysbd' needs the package 'pysbd', which is not installed"):
        Segmenter("en")


def test_backend_that_changes_text_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Rewriting(BACKENDS["sentencex"]):  # type: ignore[misc, valid-type]
        def sentences(self, paragraph: str) -> list[str]:
            return ["One.", "Tw0.", "Three."]

    monkeypatch.setitem(BACKENDS, "rewriting", Rewriting)
    with caplog.at_level(logging.WARNING, logger="pipeline.segment"):
        document = Segmenter("en", backend="rewriting").segment("One. Two. Three.")
    assert document.texts == ["One.", "Two. Three."]
    assert "changed the text" in caplog.text


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

# Lone surrogates cannot come out of a UTF-8 file, so they are left out.
_ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
_PROSE = st.lists(
    st.sampled_from(
        ["Dr.", "Mr. Smith", "U.S.", "e.g.", "1.5", "ok", "Hello", "world", "。", "！", "你好", "?", "!", ". ", ".",
         "“", "”", "\"", "'", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u2028", "...", "1)", "a.", "(", ")"]
    ),
    max_size=60,
).map("".join)
_DOCUMENTS = st.one_of(_ANY_TEXT, _PROSE)


def _check_document(document: Document, text: str) -> None:
    assert _nonspace(" ".join(document.texts)) == _nonspace(text)
    assert document.rebuild(document.texts) == text
    previous_end = 0
    for segment in document.segments:
        assert text[segment.start : segment.end] == segment.text
        assert segment.text and segment.text == segment.text.strip()
        assert "\n" not in segment.text
        assert segment.start >= previous_end
        previous_end = segment.end
    assert document.paragraph_ids == sorted(document.paragraph_ids)


@settings(max_examples=300, deadline=None)
@given(text=_DOCUMENTS, lang=st.sampled_from(["en", "de", "zh"]))
def test_property_default_backend_keeps_text(text: str, lang: str) -> None:
    _check_document(Segmenter(lang).segment(text), text)


@settings(max_examples=100, deadline=None)
@given(text=_DOCUMENTS)
def test_property_pysbd_keeps_text(text: str) -> None:
    _check_document(Segmenter("en", backend="pysbd").segment(text), text)


# --------------------------------------------------------------------------
# split_long (pipeline.batching, which splits a segment with this module's sentences)
# --------------------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize(
    ("text", "budget", "count", "expected"),
    [
        pytest.param("Short one.", 5, _words, ["Short one."], id="fits"),
        pytest.param("  padded  ", 1, _words, ["  padded  "], id="fits-unchanged"),
        pytest.param(
            "We came; we saw, and we conquered: all of it.", 5, _words,
            ["We came;", "we saw, and we conquered:", "all of it."], id="semicolon-then-colon",
        ),
        pytest.param(
            "It cost 1,000,000 euros, or so they say.", 4, _words,
            ["It cost 1,000,000 euros,", "or so they say."], id="no-cut-inside-numbers",
        ),
        pytest.param(
            "The rover — small and slow — is still working today.", 5, _words,
            ["The rover —", "small and slow —", "is still working today."], id="dashes",
        ),
        pytest.param("one two three four five six seven", 3, _words, ["one two three", "four five six", "seven"],
                     id="words"),
        pytest.param("中国航天局发布了照片，显示火星车；上面插着国旗。", 8, len,
                     ["中国航天局发布了", "照片，", "显示火星车；", "上面插着国旗。"],
                     id="cjk-clauses-then-chars"),
        pytest.param("abcdefghij", 4, len, ["abcd", "efgh", "ij"], id="characters"),
        pytest.param("e\u0301e\u0301e\u0301", 3, len, ["e\u0301", "e\u0301", "e\u0301"], id="combining-marks-kept"),
    ],
)
def test_split_long_cases(text: str, budget: int, count: object, expected: list[str]) -> None:
    assert split_long(text, budget, count) == expected  # type: ignore[arg-type]


def test_split_long_single_character_over_budget() -> None:
    assert split_long("ab", 1, lambda s: 2 * len(s)) == ["a", "b"]


def test_split_long_bad_budget() -> None:
    with pytest.raises(ConfigError, match="max_tokens must be at least 1, got 0"):
        split_long("text", 0, len)


_COUNTERS = {
    "chars": len,
    "nonspace": lambda s: len(_nonspace(s)),
    "words": _words,
    "words+chars": lambda s: len(s.split()) + len(s) // 4,
}


_ENGLISH = Segmenter("en")


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(_ANY_TEXT, _PROSE, st.text("abc ,;:—，；。-", max_size=120)),
    budget=st.integers(1, 30),
    counter=st.sampled_from(sorted(_COUNTERS)),
    sentences=st.booleans(),
)
def test_property_split_long(text: str, budget: int, counter: str, sentences: bool) -> None:
    count = _COUNTERS[counter]
    pieces = split_long(text, budget, count, segmenter=_ENGLISH if sentences else None)
    assert _nonspace(" ".join(pieces)) == _nonspace(text)
    if count(text) > budget and text.strip():
        for piece in pieces:
            assert piece and piece == piece.strip()
            # Every counter here gives at most `budget` to one character or one word.
            assert count(piece) <= budget
    else:
        assert pieces == [text]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_split_long_cuts_sentences_first(backend: str) -> None:
    text = "The cat sat. It was warm; the sun shone, and the birds sang loudly all day. Yes."
    pieces = split_long(text, 8, _words, segmenter=Segmenter("en", backend))
    # Each sentence alone ("Yes." would fit with its neighbour), then clauses packed while they fit.
    assert pieces == ["The cat sat.", "It was warm;", "the sun shone,", "and the birds sang loudly all day.", "Yes."]


def test_split_long_without_a_segmenter_packs_across_sentences() -> None:
    assert split_long("One two. Three four. Five six seven.", 4, _words) == ["One two. Three four.", "Five six seven."]


@pytest.mark.parametrize(
    ("lang", "file", "lines", "joiner"),
    [
        pytest.param("en", "eng_Latn", 150, " ", id="spaced"),
        pytest.param("zh-Hans", "zho_Hans", 400, "", id="unspaced"),
    ],
)
def test_split_long_segments_window_by_window_like_the_whole(lang: str, file: str, lines: int, joiner: str) -> None:
    # The segmenter sees windows of the line; the sentences must be those of the whole line.
    text = joiner.join((FLORES / f"{file}.devtest").read_text(encoding="utf-8").splitlines()[:lines])
    assert len(text) > 2 * SENTENCE_WINDOW
    segmenter = Segmenter(lang)
    whole = segmenter.segment(text).texts
    budget = max(map(len, whole))
    assert len(text) > budget and len(whole) >= lines
    assert split_long(text, budget, len, segmenter=segmenter) == whole


def _megabyte(kind: str) -> str:
    flores = " ".join((FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines())
    unit = {
        "prose": flores,
        "open-quote": '"' + flores.replace('"', ""),  # a quote never closed: no sentence ends for sentencex
        "no-punctuation": "".join(c for c in flores if c.isalnum() or c == " "),
        "no-spaces": "".join(flores.split()),
    }[kind]
    return (unit * (1_000_000 // len(unit) + 1))[:1_000_000]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["prose", "open-quote", "no-punctuation", "no-spaces"])
def test_split_long_one_megabyte_line(kind: str) -> None:
    text = _megabyte(kind)
    seen = [0]

    def count(piece: str) -> int:
        seen[0] += len(piece)
        return len(piece.split()) + len(piece) // 4

    pieces = split_long(text, 128, count, segmenter=_ENGLISH)
    assert max(map(count, pieces)) <= 128
    assert _nonspace("".join(pieces)) == _nonspace(text)  # nothing lost, nothing added
    position = 0
    for piece in pieces:  # substrings, in order
        position = text.index(piece, position) + len(piece)
    # Linear work: the counter sees each character a bounded number of times. The former
    # bisection over the rest of the line showed it each character about len / budget times.
    assert seen[0] < 40 * len(text)
